// Who is at the other end of a Unix socket, from the kernel (src/native/peercred.c through
// src/agent/peercred.ts): root, a nobody with two supplementary groups and its pid, a TCP
// socket (no credentials: ENODATA), a bad descriptor (EBADF).
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerCredentials, type PeerCredentials } from '../src/agent/peercred';
import { REPO, NOBODY } from './helpers/cluster';

const ADDON = join(REPO, 'dist', 'peercred.node');
if (!existsSync(ADDON)) throw new Error(`${ADDON} is missing: run "make build" before the tests`);
if (process.getuid?.() !== 0)
  throw new Error('this test needs root (it connects as another user with setpriv)');

/** A Unix-socket server in a fresh directory every user may reach; each accepted socket's credentials. */
async function unixServer(
  t: Test,
): Promise<{ path: string; next: () => Promise<PeerCredentials> }> {
  const dir = mkdtempSync(join(tmpdir(), 'gproc-peercred-'));
  chmodSync(dir, 0o777);
  const path = join(dir, 'sock');
  const waiting: ((c: PeerCredentials) => void)[] = [];
  const got: PeerCredentials[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    const creds = peerCredentials(s);
    const w = waiting.shift();
    if (w) w(creds);
    else got.push(creds);
  });
  await new Promise<void>((res) => server.listen(path, res));
  chmodSync(path, 0o777); // connect(2) needs write permission on the socket file
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const next = () =>
    new Promise<PeerCredentials>((res) => (got.length ? res(got.shift()!) : waiting.push(res)));
  return { path, next };
}

/** A node client connecting to `path`, as `asUser` (setpriv arguments) or root; it stays until killed. */
function client(t: Test, path: string, asUser: string[] = []): ChildProcess {
  const script = `require('net').createConnection(${JSON.stringify(path)}).on('connect', () => console.log('connected')).on('error', (e) => { console.error(e.message); process.exit(1); })`;
  const argv = [
    ...(asUser.length ? ['setpriv', ...asUser, '--'] : []),
    'env',
    '-u',
    'NODE_OPTIONS',
    'node',
    '-e',
    script,
  ];
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  return p;
}

const withTimeout = <T>(what: string, p: Promise<T>, ms = 10000) =>
  Promise.race([
    p,
    new Promise<T>((_, rej) =>
      setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms).unref(),
    ),
  ]);

t.test('a client running as root', async (t) => {
  const { path, next } = await unixServer(t);
  const p = client(t, path);
  const creds = await withTimeout('the root client', next());
  t.equal(creds.uid, 0, 'uid 0');
  t.equal(creds.gid, 0, 'gid 0');
  t.equal(creds.pid, p.pid, "the client's pid");
  t.ok(
    Array.isArray(creds.groups) && creds.groups.every((g) => Number.isInteger(g)),
    'groups: an array of numbers',
  );
});

t.test('a client running as nobody with groups 4 and 20', async (t) => {
  const { path, next } = await unixServer(t);
  const p = client(t, path, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--groups=4,20']);
  const creds = await withTimeout('the nobody client', next());
  t.equal(creds.uid, NOBODY, 'uid 65534');
  t.equal(creds.gid, NOBODY, 'gid 65534');
  t.same(
    [...creds.groups].sort((a, b) => a - b),
    [4, 20],
    'supplementary groups 4 and 20',
  );
  // setpriv and env exec in turn: the pid spawn() got is the node that connected.
  t.equal(creds.pid, p.pid, "the client's pid");
});

t.test(
  'a client with more groups than the first buffer holds (ERANGE, then retried)',
  async (t) => {
    const { path, next } = await unixServer(t);
    const many = Array.from({ length: 200 }, (_, i) => 1000 + i);
    client(t, path, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, `--groups=${many.join(',')}`]);
    const creds = await withTimeout('the client with 200 groups', next());
    t.same(
      [...creds.groups].sort((a, b) => a - b),
      many,
      'all 200 groups',
    );
  },
);

t.test('a TCP socket carries no credentials: ENODATA', async (t) => {
  // Linux answers SO_PEERCRED on a TCP socket with pid 0, uid and gid -1 (it holds no
  // peer credentials) and fails SO_PEERGROUPS with ENODATA; the addon reports ENODATA.
  const accepted = new Promise<Socket>((res) => {
    const server = createServer((s) => {
      t.teardown(() => s.destroy());
      res(s);
    });
    server.listen(0, '127.0.0.1', () => {
      const c = createConnection((server.address() as { port: number }).port, '127.0.0.1');
      t.teardown(() => {
        c.destroy();
        server.close();
      });
    });
  });
  const s = await withTimeout('the TCP connection', accepted);
  t.throws(() => peerCredentials(s), { code: 'ENODATA' }, 'throws with code ENODATA');
});

t.test(
  'a bad descriptor: EBADF; not a socket: ENOTSOCK; no descriptor: a clear error',
  async (t) => {
    t.throws(
      () => peerCredentials({ _handle: { fd: 987654 } } as unknown as Socket),
      { code: 'EBADF' },
      'EBADF',
    );
    const file = openSync(__filename, 'r');
    t.teardown(() => closeSync(file));
    t.throws(
      () => peerCredentials({ _handle: { fd: file } } as unknown as Socket),
      { code: 'ENOTSOCK' },
      'a regular file: ENOTSOCK',
    );
    t.throws(() => peerCredentials({} as unknown as Socket), /has no file descriptor/, 'no handle');
  },
);
