// dist/gproc-exec, the set-user-ID-root helper behind `gproc exec` (src/native/gproc-exec.c),
// over a real view from `gproc up`: as root and as nobody the tool sees the cluster as its
// /proc and runs as its caller with no_new_privs (a set-user-ID program inside gains
// nothing); the helper refuses anything but the root of root's fuse.gproc mount; wrapped
// environment variables arrive unwrapped; exit statuses are mirrored; nothing stays mounted.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runtimeDir } from '../src/fs/mount';
import { upFiles } from '../src/up/files';
import { freePorts, GPROC, REPO, requireRealParts, waitFor, NOBODY } from './helpers/cluster';

requireRealParts();
const HELPER = join(REPO, 'dist', 'gproc-exec');
const KILL_LIBRARY = join(REPO, 'dist', 'gproc-kill.so');
{
  const st = statSync(HELPER, { throwIfNoEntry: false });
  if (!st || st.uid !== 0 || (st.mode & 0o4000) === 0)
    throw new Error(`${HELPER} is missing or not set-user-ID root: run "make build" as root`);
}

const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
/** A plain environment every user can use (root's PATH names directories nobody cannot search). */
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8' };

/** Runs argv (as nobody when `nobody`), with `extra` added to ENV. */
function run(
  nobody: boolean,
  argv: string[],
  extra: Record<string, string> = {},
): SpawnSyncReturns<string> {
  const full = [...(nobody ? AS_NOBODY : []), ...argv];
  const r = spawnSync(full[0], full.slice(1), {
    encoding: 'utf8',
    env: { ...ENV, ...extra },
    timeout: 30000,
    cwd: '/',
  });
  if (r.error) throw r.error;
  return r;
}
const helper = (
  nobody: boolean,
  view: string,
  argv: string[],
  extra: Record<string, string> = {},
) => run(nobody, [HELPER, view, '--', ...argv], extra);
const mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8');
const exited = (p: ChildProcess) =>
  new Promise<number | null>((r) =>
    p.exitCode !== null || p.signalCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c)),
  );

/** A directory every user can reach (mkdtemp makes it 0700). */
function scratch(t: Test): string {
  const dir = mkdtempSync('/tmp/gproc-exec-helper-');
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A FUSE mount made with mount(2) from a descriptor of /dev/fuse that is never read
 * (nothing is answered). `userId` is what fusermount sets to the mounting user.
 */
async function rawFuseMount(t: Test, dir: string, fstype: string, userId: number): Promise<void> {
  mkdirSync(dir);
  const py = [
    'import ctypes, os, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    "fd = os.open('/dev/fuse', os.O_RDWR)",
    `opts = 'fd=%d,rootmode=40000,user_id=${userId},group_id=${userId}' % fd`,
    `if libc.mount(b'gproc', ${JSON.stringify(dir)}.encode(), b'${fstype}', 0, opts.encode()) != 0: sys.exit('mount: ' + os.strerror(ctypes.get_errno()))`,
    "print('mounted', flush=True)",
    'sys.stdin.read()',
  ].join('\n');
  const p = spawn('/usr/bin/python3', ['-c', py], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(async () => {
    p.stdin.end(); // closes /dev/fuse: the connection is aborted, and the mount can go
    await exited(p);
    spawnSync('umount', [dir]);
  });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  await waitFor(`the ${fstype} mount at ${dir}`, () => {
    if (p.exitCode !== null) throw new Error(`mounting ${fstype} at ${dir} failed`);
    return out.includes('mounted') || undefined;
  });
}

t.test('gproc-exec over a real view', async (t) => {
  const dir = scratch(t);
  const view = join(dir, 'view');
  const [port] = await freePorts(1);
  const up = spawn(
    GPROC[0],
    [...GPROC.slice(1), 'up', '--mount', view, '--base-port', String(port)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let upErr = '';
  up.stderr.on('data', (d) => (upErr += d));
  t.teardown(async () => {
    if (up.exitCode === null && up.signalCode === null) {
      up.kill('SIGINT');
      await exited(up);
    }
    if (mountinfo().includes(` ${view} `)) spawnSync('fusermount', ['-uz', view]);
    rmSync(upFiles(view).dir, { recursive: true, force: true });
  });
  await waitFor(
    'the view',
    () => {
      if (up.exitCode !== null) throw new Error(`gproc up exited ${up.exitCode}: ${upErr}`);
      try {
        // Its node's processes listed: the agent's first reading of a busy machine can outlast
        // the first refresh, which then shows the node down for a second.
        return readdirSync(view).some((n) => Number(n) >= 2 ** 22) || undefined;
      } catch {
        return undefined;
      }
    },
    30000,
  );

  for (const nobody of [false, true]) {
    const who = nobody ? 'nobody' : 'root';
    const uid = nobody ? NOBODY : 0;

    t.test(`${who}: the view is /proc, the tool runs as ${who}`, async (t) => {
      const pidMax = helper(nobody, view, ['cat', '/proc/sys/kernel/pid_max']);
      t.equal(pidMax.stdout.trim(), '2147483647', "pid_max is the view's");
      t.equal(pidMax.status, 0);
      const ps = helper(nobody, view, ['ps', '-eo', 'user,pid,comm']);
      t.equal(ps.status, 0, `ps exits 0 (${ps.stderr.trim()})`);
      const rows = ps.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/));
      t.ok(
        rows.some(([user, pid]) => user === 'root' && Number(pid) >= 2 ** 22),
        'ps lists global PIDs owned by root, as user root',
      );
      t.equal(helper(nobody, view, ['id', '-u']).stdout.trim(), String(uid), `id -u is ${uid}`);
      // /proc/self in the view is a link into a procfs of this machine: the kernel resolves
      // it for the reader, so this is the tool's own status.
      t.equal(
        helper(nobody, view, ['readlink', '/proc/self']).stdout.trim(),
        `${runtimeDir(view)}/proc/self`,
        "/proc/self leads to the mount's procfs",
      );
      const status = helper(nobody, view, ['cat', '/proc/self/status']).stdout;
      t.match(status, /^NoNewPrivs:\s+1$/m, 'NoNewPrivs: 1');
      t.match(
        status,
        new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'),
        `real, effective, saved and fs uid ${uid}`,
      );
    });

    t.test(`${who}: exit statuses and the environment`, async (t) => {
      t.equal(helper(nobody, view, ['sh', '-c', 'exit 7']).status, 7, 'exit 7 is mirrored');
      const missing = helper(nobody, view, ['no-such-command-here']);
      t.equal(missing.status, 127, 'a command that is not found: 127');
      t.match(missing.stderr, /^gproc-exec: no-such-command-here: No such file or directory\n$/);
      const env = helper(
        nobody,
        view,
        ['sh', '-c', 'echo "$TMPDIR|$LD_PRELOAD|$KEEP"; env | grep -c ^GPROC_ENV_ || true'],
        {
          GPROC_ENV_TMPDIR: '/var/tmp/x',
          GPROC_ENV_LD_PRELOAD: KILL_LIBRARY,
          GPROC_ENV_KEEP: 'wrapped',
          KEEP: 'plain',
        },
      );
      t.equal(
        env.stdout,
        `/var/tmp/x|${KILL_LIBRARY}|wrapped\n0\n`,
        'wrapped variables arrive unwrapped (and replace plain ones); no GPROC_ENV_ is left',
      );
      if (nobody) {
        // Why they are wrapped: glibc strips them from a set-user-ID program run by a user.
        const plain = helper(true, view, ['sh', '-c', 'echo "[$TMPDIR|$LD_PRELOAD]"'], {
          TMPDIR: '/var/tmp/x',
          LD_PRELOAD: KILL_LIBRARY,
        });
        t.equal(
          plain.stdout,
          '[|]\n',
          'unwrapped, glibc removes TMPDIR and LD_PRELOAD on the way in',
        );
      }
    });
  }

  t.test('a set-user-ID program gains nothing inside', async (t) => {
    const d = scratch(t);
    const src = join(d, 'euid.c');
    const bin = join(d, 'euid');
    writeFileSync(
      src,
      '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("%d\\n", (int)geteuid()); return 0; }\n',
    );
    const cc = spawnSync('cc', ['-o', bin, src], { encoding: 'utf8' });
    t.equal(cc.status, 0, `compiles (${cc.stderr})`);
    chownSync(bin, 0, 0);
    chmodSync(bin, 0o4755);
    t.equal(run(true, [bin]).stdout.trim(), '0', 'outside, nobody running it gets euid 0');
    t.equal(
      helper(true, view, [bin]).stdout.trim(),
      String(NOBODY),
      'inside the helper it keeps euid 65534 (no_new_privs)',
    );
  });

  t.test("the helper refuses anything but the root of root's gproc view", async (t) => {
    const d = scratch(t);
    const refused = (target: string, message: RegExp, what: string) => {
      for (const nobody of [true, false]) {
        const r = helper(nobody, target, ['cat', '/proc/sys/kernel/pid_max']);
        t.equal(r.status, 125, `${what} (${nobody ? 'nobody' : 'root'}): exit 125`);
        t.match(r.stderr, message, `${what} (${nobody ? 'nobody' : 'root'}): says why`);
        t.equal(r.stderr.trim().split('\n').length, 1, 'in one line');
        t.equal(r.stdout, '', 'and runs nothing');
      }
    };
    const plain = join(d, 'plain');
    mkdirSync(plain);
    refused(
      plain,
      /^gproc-exec: .*plain is not a mount point, so not a gproc view$/m,
      'a plain directory',
    );
    refused(join(view, 'nodes'), /is not a mount point/, 'a directory inside the view');
    refused(join(d, 'missing'), /missing: No such file or directory/, 'a missing directory');

    const tmpfs = join(d, 'tmpfs');
    mkdirSync(tmpfs);
    t.equal(spawnSync('mount', ['-t', 'tmpfs', 'gproc', tmpfs]).status, 0, 'a tmpfs is mounted');
    t.teardown(() => spawnSync('umount', [tmpfs]));
    refused(tmpfs, /is a tmpfs mount, not a gproc view/, 'a tmpfs');

    // What fusermount makes for a user who names it gproc: fuse.gproc with user_id=65534.
    // (fusermount itself cannot run here: /dev/fuse is mode 0600, and fusermount opens it
    // as the user; root's mount(2) with the same options makes the same mount.)
    const userMount = join(d, 'user-fuse');
    await rawFuseMount(t, userMount, 'fuse.gproc', NOBODY);
    t.match(
      mountinfo(),
      new RegExp(` ${userMount} .* - fuse\\.gproc gproc rw,user_id=${NOBODY},`),
      'a fuse.gproc mount with user_id=65534',
    );
    refused(userMount, /was not mounted by root \(gproc views are\)/, "a user's fuse.gproc mount");

    const other = join(d, 'other-fuse');
    await rawFuseMount(t, other, 'fuse.other', 0);
    refused(other, /is a fuse\.other mount, not a gproc view/, "root's FUSE mount of another kind");

    const part = join(d, 'part');
    mkdirSync(part);
    t.equal(
      spawnSync('mount', ['--bind', join(view, 'nodes'), part]).status,
      0,
      'a directory of the view is bound elsewhere',
    );
    t.teardown(() => spawnSync('umount', [part]));
    refused(
      part,
      /mounts part of a filesystem, not a whole gproc view/,
      'a bind mount of part of the view',
    );

    const copy = join(d, 'not-suid');
    copyFileSync(HELPER, copy);
    chmodSync(copy, 0o755);
    const r = run(true, [copy, view, '--', 'true']);
    t.equal(r.status, 125, 'a copy that is not set-user-ID: 125');
    t.match(r.stderr, /^gproc-exec: not set-user-ID root/);
  });

  t.test('gproc exec and gproc ps, as nobody, go through the helper', async (t) => {
    const gproc = (args: string[]) => run(true, [...GPROC, ...args], { TMPDIR: '/var/tmp/y' });
    const id = gproc([
      'exec',
      '--mount',
      view,
      '--',
      'sh',
      '-c',
      'id -u; echo "$TMPDIR"; echo "$LD_PRELOAD"; exit 5',
    ]);
    t.equal(id.status, 5, 'exit status mirrored');
    t.equal(
      id.stdout,
      `${NOBODY}\n/var/tmp/y\n${KILL_LIBRARY}\n`,
      'runs as nobody, with TMPDIR and gproc-kill.so in LD_PRELOAD',
    );
    const ps = gproc(['ps', '--mount', view, '-eo', 'user,pid,comm']);
    t.equal(ps.status, 0, `gproc ps exits 0 (${ps.stderr.trim()})`);
    t.match(ps.stdout, /^root\s+\d{7,}\s/m, 'and lists root processes by global PID');
  });

  t.test('stopping up leaves nothing mounted', async (t) => {
    up.kill('SIGINT');
    t.equal(await exited(up), 0, 'up exits 0');
    const left = mountinfo()
      .split('\n')
      .filter((l) => l.includes(` ${view} `) || l.includes(` ${runtimeDir(view)}/`));
    t.same(left, [], 'no mount of this view is left');
  });
});
