// Holes found by trying to break the identity model (native-notes/security.md), each kept
// shut: a user's working directory is entered as the user; `<gpid>/wait` is its owner's
// (mode 0400, also once the process has ended); a run whose leader was reaped is hung up
// as its caller, not as root (its group's id may be another session's by then).
import t from 'tap';
import { spawnSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { REPO, startCluster, waitFor, NOBODY } from './helpers/cluster';
import { inNode, startMount } from './helpers/mount';

const OTHER = 4242;
const asUser = (uid: number, argv: string[]) => [
  'setpriv',
  `--reuid=${uid}`,
  `--regid=${uid}`,
  '--clear-groups',
  'env',
  '-u',
  'NODE_OPTIONS',
  ...argv,
];

t.test('what a hostile local user tried', async (t) => {
  const cluster = await startCluster(t, { nodes: 1 });
  const [n1] = cluster.nodes;
  const client = join(cluster.dir, 'raw-client.js');
  const built = spawnSync(
    join(REPO, 'node_modules/.bin/esbuild'),
    [
      join(__dirname, 'helpers/raw-client.ts'),
      '--bundle',
      '--platform=node',
      '--target=node20',
      '--log-level=warning',
      `--outfile=${client}`,
    ],
    { encoding: 'utf8' },
  );
  if (built.status !== 0) throw new Error(built.stderr);
  chmodSync(client, 0o644);
  const spec = (calls: object[]) => JSON.stringify({ target: `unix:${n1.socket}`, calls });
  const rawAs = (uid: number, calls: object[]) => {
    const argv = asUser(uid, ['node', client, spec(calls)]);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`raw client failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const scratchDir = mkdtempSync(join(tmpdir(), 'gproc-breakit-'));
  chmodSync(scratchDir, 0o755);
  t.teardown(() => spawnSync('rm', ['-rf', scratchDir]));

  t.test(
    'a working directory under a directory the user may not search is not entered for it',
    async (t) => {
      const home = join(scratchDir, 'home');
      mkdirSync(join(home, 'pub'), { recursive: true });
      writeFileSync(join(home, 'pub', 'secret'), 'TOPSECRET\n');
      for (const p of [home, join(home, 'pub'), join(home, 'pub', 'secret')])
        chownSync(p, OTHER, OTHER);
      chmodSync(home, 0o700);
      chmodSync(join(home, 'pub'), 0o755);
      chmodSync(join(home, 'pub', 'secret'), 0o644);
      const cwd = join(home, 'pub');
      const [theirs] = rawAs(NOBODY, [{ m: 'Run', req: { argv: ['cat', 'secret'], cwd } }]);
      t.notMatch(theirs.stdout, /TOPSECRET/, 'nobody cannot read through it');
      t.not(theirs.exit?.code, 0, `the run fails: ${JSON.stringify(theirs)}`);
      const [spawned] = rawAs(NOBODY, [{ m: 'Spawn', req: { argv: ['sleep', '30'], cwd } }]);
      if (spawned.pid) {
        await new Promise((r) => setTimeout(r, 300));
        t.notOk(
          existsSync(`${n1.procRoot}/${spawned.pid}`) &&
            readFileSync(`${n1.procRoot}/${spawned.pid}/stat`, 'latin1').includes(') S '),
          'a spawn there does not run either',
        );
      }
      const [owners] = rawAs(OTHER, [
        { m: 'Run', req: { argv: ['sh', '-c', 'pwd; cat secret'], cwd } },
      ]);
      t.equal(owners.stdout, `${cwd}\nTOPSECRET\n`, 'its owner still runs there');
      const [plain] = rawAs(NOBODY, [{ m: 'Run', req: { argv: ['pwd'], cwd: scratchDir } }]);
      t.equal(plain.stdout, `${scratchDir}\n`, 'a directory the user may enter is entered');
    },
  );

  t.test("another user's wait file is not readable, live or ended", async (t) => {
    const mount = await startMount(t, cluster, { node: 1 });
    const [started] = rawAs(OTHER, [{ m: 'Spawn', req: { shellCommand: 'sleep 2; exit 7' } }]);
    const dir = `${mount.mountPoint}/${encodeGpid(1, started.pid)}`;
    await waitFor('the process listed', () => existsSync(`${dir}/wait`) || undefined);
    const st = statSync(`${dir}/wait`);
    t.equal(st.mode & 0o777, 0o400, 'mode 0400');
    t.equal(st.uid, OTHER, "the owner's");
    const cat = (uid: number) =>
      spawnSync(
        'setpriv',
        [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'cat', `${dir}/wait`],
        { encoding: 'utf8', timeout: 20000 },
      );
    const early = cat(NOBODY);
    t.match(early.stderr, /Permission denied/, 'nobody may not read it while it runs');
    await waitFor('it ended', () => !existsSync(`${dir}/cmdline`) || undefined);
    await waitFor('the ended entry', () => existsSync(`${dir}/wait`) || undefined);
    t.equal(statSync(`${dir}/wait`).uid, OTHER, "the ended entry's wait file is the owner's");
    t.equal(statSync(`${dir}/wait`).mode & 0o777, 0o400);
    t.match(cat(NOBODY).stderr, /Permission denied/, 'nobody may not read it once ended');
    t.equal(cat(OTHER).stdout, 'exited 7\n', 'its owner reads it');
  });

  t.test(
    'a run whose leader was reaped hangs up as its caller: a root group that took the id is spared',
    async (t) => {
      const pidFile = join(scratchDir, 'leader');
      chmodSync(scratchDir, 0o1777);
      // The leader leaves (and is reaped) while a process of another session keeps the stream's output open.
      const calls = [
        {
          m: 'Run',
          ms: 30000,
          keepOpen: true,
          cancelAfterMs: 4000,
          req: { argv: ['sh', '-c', `echo $$ > ${pidFile}; setsid sleep 20 & exit 0`] },
        },
      ];
      const argv = asUser(NOBODY, ['node', client, spec(calls)]);
      const run = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
      t.teardown(() => run.kill('SIGKILL'));
      const ended = new Promise((r) => run.once('exit', r));
      const leader = await waitFor(
        'the leader pid',
        () => (existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8'))) || undefined,
      );
      await new Promise((r) => setTimeout(r, 500)); // reaped
      // Root starts a session whose id is the old leader's pid (as pid reuse would give it).
      const py = `import os\nopen('/proc/sys/kernel/ns_last_pid','w').write(str(${leader - 1}))\npid=os.fork()\nif pid==0:\n  os.setsid(); fd=os.open('/dev/null',os.O_RDWR)\n  [os.dup2(fd,f) for f in (0,1,2)]\n  os.execvp('sleep',['sleep','60'])\nprint(pid)`;
      const victim = Number(inNode(n1, ['python3', '-c', py]).stdout.trim());
      t.teardown(() => inNode(n1, ['kill', '-9', String(victim)]));
      t.equal(victim, leader, "root's session leader has the old leader's pid");
      await ended;
      await new Promise((r) => setTimeout(r, 500));
      t.ok(
        readFileSync(`${n1.procRoot}/${victim}/stat`, 'latin1').match(/\) [RS] /),
        "root's process lives after the run is cancelled",
      );
    },
  );
});
