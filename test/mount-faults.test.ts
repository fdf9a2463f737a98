// Faults of the mount daemon: a new `gproc mount` on the mount point of a frozen (SIGSTOP)
// or killed (SIGKILL) daemon takes over within 5 s; a live daemon is refused at once and
// keeps serving. While the old daemon is frozen nothing here may look at its mount point
// (any stat there blocks for ever): the test watches /proc/self/mountinfo instead.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../src/defaults';
import { encodeGpid } from '../src/gpid';
import { isGprocFuse, mountsAt, parseMountinfo, type MountInfoEntry } from '../src/fs/stale-mount';
import { runtimeDir } from '../src/fs/mount';
import { freePorts, GPROC, startCluster, waitFor, type TestCluster } from './helpers/cluster';
import { upFiles } from '../src/up/files';
import { startMount } from './helpers/mount';

const TAKEOVER_MS = 5000;

const mountsOf = (dir: string): MountInfoEntry[] =>
  mountsAt(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), dir);
const exited = (p: ChildProcess) =>
  new Promise<void>((r) =>
    p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r()),
  );

/** Starts `gproc mount` on `mountPoint` without looking at the mount point. */
function spawnMount(
  t: Test,
  cluster: TestCluster,
  mountPoint: string,
): { child: ChildProcess; logFile: string } {
  const logFile = `${cluster.dir}/mount-takeover-${Date.now()}.log`;
  const log = openSync(logFile, 'a');
  const child = spawn(
    GPROC[0],
    [...GPROC.slice(1), 'mount', '--config', cluster.configPath, '--node', '1', mountPoint],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    await exited(child);
  });
  return { child, logFile };
}

/**
 * Waits until daemon `pid` has its view mounted at `dir`: it records itself (in `run`) only
 * after the old mounts are detached, so one gproc mount at `dir` after that is its own
 * (device numbers and mount ids of the old mounts may be reused, so they tell nothing).
 */
function newMountAt(dir: string, run: string, pid: number): Promise<MountInfoEntry> {
  return waitFor(
    `the mount of daemon ${pid} at ${dir}`,
    () => {
      let recorded: string;
      try {
        recorded = readFileSync(`${run}/pid`, 'utf8').split(' ')[0];
      } catch {
        return undefined;
      }
      const now = mountsOf(dir);
      return recorded === String(pid) && now.length === 1 && isGprocFuse(now[0])
        ? now[0]
        : undefined;
    },
    30000,
  );
}

/**
 * Puts up a mount, brings its daemon to `fault`, starts a new daemon on the same place and
 * checks that it takes over within TAKEOVER_MS, the old daemon's three mounts gone.
 */
async function takeOver(t: Test, cluster: TestCluster, fault: 'SIGSTOP' | 'SIGKILL') {
  const old = await startMount(t, cluster, { node: 1 });
  const run = runtimeDir(old.mountPoint);
  const [oldView] = mountsOf(old.mountPoint);
  const [oldControl] = mountsOf(`${run}/control`);
  t.ok(oldView && oldControl, 'the daemon has its view and its control mount');
  try {
    old.process.kill(fault);
    if (fault === 'SIGKILL') {
      await exited(old.process);
      const r = spawnSync('ls', [old.mountPoint], { encoding: 'utf8', timeout: 5000 });
      t.match(
        r.stderr,
        /Transport endpoint is not connected/,
        'the killed daemon left a dead mount',
      );
    } else {
      await waitFor(
        'the daemon stopped',
        () =>
          readFileSync(`/proc/${old.process.pid}/stat`, 'latin1').split(') ')[1].startsWith('T') ||
          undefined,
        5000,
      );
    }
    const t0 = Date.now();
    const { child: next, logFile } = spawnMount(t, cluster, old.mountPoint);
    const view = await newMountAt(old.mountPoint, run, next.pid!).catch((err) => {
      t.comment(`the new daemon's log:\n${readFileSync(logFile, 'utf8')}`);
      throw err;
    });
    const ms = Date.now() - t0;
    t.comment(`after ${fault}: the new daemon mounted over the old mount in ${ms} ms`);
    t.ok(ms < TAKEOVER_MS, `took over in ${ms} ms (< ${TAKEOVER_MS})`);
    t.ok(isGprocFuse(view), "the new daemon's view, the old one detached");
    await waitFor(
      'the control mount',
      () => mountsOf(`${run}/control`).length === 1 || undefined,
      5000,
    );
    t.equal(mountsOf(`${run}/control`).length, 1, "one control mount: the old daemon's is gone");
    t.equal(mountsOf(`${run}/proc`).length, 1, 'one procfs');
    const ls = spawnSync('ls', [old.mountPoint], { encoding: 'utf8', timeout: 10000 });
    t.equal(ls.status, 0, 'ls of the new mount exits 0');
    t.ok(ls.stdout.split('\n').includes(String(encodeGpid(1, 1))), 'and lists the cluster');
    t.equal(readFileSync(`${old.mountPoint}/nodes/2/name`, 'utf8'), 'n2\n');
    if (fault === 'SIGSTOP') {
      // Woken and stopped, the old daemon must leave the new daemon's mounts alone.
      old.process.kill('SIGCONT');
      old.process.kill('SIGINT');
      await Promise.race([exited(old.process), new Promise((r) => setTimeout(r, 5000))]);
      t.ok(
        readdirSync(old.mountPoint).includes('nodes'),
        'the new mount still serves after the old daemon woke and stopped',
      );
      t.equal(mountsOf(old.mountPoint).length, 1);
    }
  } finally {
    old.process.kill('SIGKILL');
    old.process.kill('SIGCONT');
    await exited(old.process);
  }
}

t.test('mount daemon faults', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });

  t.test('a frozen (SIGSTOPped) daemon does not block the next mount', (t) =>
    takeOver(t, cluster, 'SIGSTOP'),
  );
  t.test('a killed daemon does not block the next mount', (t) => takeOver(t, cluster, 'SIGKILL'));

  t.test('a daemon whose unmount commands hang still leaves within its bound', async (t) => {
    // fusermount and umount that ignore SIGTERM and never finish (as a command stuck in the
    // kernel would): each has its own bound, and the daemon's loop must keep running through
    // them, so it leaves within defaults.mountCloseMs all the same. (Their sleeps end by
    // themselves, 30 s on.)
    const bin = mkdtempSync(join(tmpdir(), 'gproc-hung-'));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    for (const cmd of ['fusermount', 'umount'])
      writeFileSync(join(bin, cmd), "#!/bin/sh\ntrap '' TERM\nexec sleep 30\n", { mode: 0o755 });
    const hung = await startMount(t, cluster, {
      node: 1,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    const t0 = Date.now();
    hung.process.kill('SIGINT');
    const code = await new Promise<number | null>((r) => hung.process.once('exit', r));
    const ms = Date.now() - t0;
    t.comment(`left in ${ms} ms with status ${code}`);
    t.ok(ms < defaults.mountCloseMs + 2000, `left within its bound (${ms} ms)`);
    const log = readFileSync(hung.logFile, 'utf8');
    t.equal(
      log.match(/unmount did not finish in time/g)?.length,
      2,
      'both FUSE unmounts were given up at their bound',
    );
    // What it left is the next start's to clear: a new daemon takes the place over.
    const run = runtimeDir(hung.mountPoint);
    const { child: next, logFile } = spawnMount(t, cluster, hung.mountPoint);
    await newMountAt(hung.mountPoint, run, next.pid!);
    t.equal(mountsOf(`${run}/control`).length, 1, "one control mount: the hung daemon's is gone");
    t.equal(mountsOf(`${run}/proc`).length, 1, 'one procfs');
    // At once, maybe before it is done mounting: it listens for signals from its start.
    next.kill('SIGINT');
    await exited(next);
    t.equal(mountsOf(hung.mountPoint).length, 0, 'the new daemon unmounted it all', {
      log: readFileSync(logFile, 'utf8'),
    });
  });

  t.test('a daemon stuck in starting an unmount command is killed by its watchdog', async (t) => {
    // A command that cannot even exec holds the daemon's main thread in spawn (which waits
    // for the child's exec), and with it the daemon's own timer. Here the PATH search meets a
    // FUSE mount whose daemon is frozen: another view, first on PATH, stopped after this
    // daemon started (its lookups answered meanwhile, and negative entries expire in 1 s).
    const frozen = await startMount(t, cluster, { node: 2 });
    const stuck = await startMount(t, cluster, {
      node: 1,
      env: { ...process.env, PATH: `${frozen.mountPoint}:${process.env.PATH}` },
    });
    const run = runtimeDir(stuck.mountPoint);
    frozen.process.kill('SIGSTOP');
    t.teardown(() => frozen.process.kill('SIGCONT')); // before its own teardown's SIGINT
    await new Promise((r) => setTimeout(r, 1500 * defaults.kernelCacheSeconds));
    const t0 = Date.now();
    stuck.process.kill('SIGINT');
    const bound = defaults.mountCloseMs + defaults.stuckCloseKillMs;
    const left = await Promise.race([
      exited(stuck.process).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), bound + 5000)),
    ]);
    const ms = Date.now() - t0;
    if (!left) stuck.process.kill('SIGKILL');
    t.ok(left, `it left (${ms} ms)`);
    t.comment(`left in ${ms} ms by ${stuck.process.signalCode ?? stuck.process.exitCode}`);
    t.equal(stuck.process.signalCode, 'SIGKILL', 'its watchdog killed it');
    t.ok(
      ms >= defaults.mountCloseMs && ms < defaults.mountCloseMs + defaults.stuckCloseKillMs + 3000,
      `past its own bound, by the watchdog's margin (${ms} ms)`,
    );
    const said = readFileSync(stuck.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('leaving by SIGKILL'))
      .map((line) => JSON.parse(line) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    t.equal(said.length, 1, 'it said why, once, in its log format');
    t.match(said[0], { level: 50, daemon: stuck.process.pid, name: 'gproc-mount' });
    t.ok(
      said[0].mainThread.stack.length > 0,
      `where its main thread waited: ${said[0].mainThread.wchan}`,
    );
    t.ok(
      said[0].children.length > 0,
      `and the commands it had started: ${said[0].children.map((c: { cmd: string }) => c.cmd).join('; ')}`,
    );
    // Thawed, the frozen view answers again, and the commands the killed daemon started
    // (they outlive it) find fusermount and umount and detach all three of its mounts.
    frozen.process.kill('SIGCONT');
    await waitFor(
      "the killed daemon's mounts detached by its own commands",
      () =>
        [stuck.mountPoint, `${run}/control`, `${run}/proc`].every(
          (dir) => mountsOf(dir).length === 0,
        ) || undefined,
      10000,
    );
    t.pass('nothing of it is left mounted');
  });

  t.test('a live daemon is refused at once, and keeps serving', async (t) => {
    const live = await startMount(t, cluster, { node: 1 });
    const t0 = Date.now();
    const r = spawnSync(
      GPROC[0],
      [...GPROC.slice(1), 'mount', '--config', cluster.configPath, '--node', '1', live.mountPoint],
      { encoding: 'utf8', timeout: 15000 },
    );
    const ms = Date.now() - t0;
    t.comment(`refused in ${ms} ms`);
    t.equal(r.status, 1, 'exit 1');
    t.match(
      r.stderr,
      new RegExp(
        `^gproc: ${live.mountPoint} is already mounted by gproc \\(pid ${live.process.pid}, running\\); stop it first`,
      ),
    );
    t.ok(ms < 3000, `within ${ms} ms`);
    t.equal(mountsOf(live.mountPoint).length, 1, 'nothing mounted over it');
    t.ok(
      readdirSync(live.mountPoint).includes(String(encodeGpid(2, 1))),
      'the live mount still serves',
    );
    t.equal(readFileSync(`${live.mountPoint}/nodes/1/state`, 'utf8'), 'up\n');
  });
});

t.test('gproc up over a frozen earlier up takes over', async (t) => {
  const [port] = await freePorts(1);
  const mount = mkdtempSync(join(tmpdir(), 'gproc-up-'));
  const run = runtimeDir(mount);
  const up = () =>
    spawn(
      GPROC[0],
      [...GPROC.slice(1), 'up', '--simulate', '1', '--mount', mount, '--base-port', String(port)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  const first = up();
  let second: ChildProcess | undefined = undefined;
  t.teardown(async () => {
    for (const p of [second, first]) {
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGKILL');
      p.kill('SIGCONT');
      await exited(p);
    }
    for (const dir of [mount, `${run}/control`, `${run}/proc`])
      spawnSync('umount', ['--lazy', '--no-canonicalize', dir]);
    rmSync(upFiles(mount).dir, { recursive: true, force: true });
    rmSync(mount, { recursive: true, force: true });
  });
  await newMountAt(mount, run, first.pid!);
  first.kill('SIGSTOP');
  const t0 = Date.now();
  second = up();
  let stderr = '';
  second.stderr!.on('data', (d) => (stderr += d));
  await newMountAt(mount, run, second.pid!);
  const ms = Date.now() - t0;
  t.comment(`gproc up took over from a frozen up in ${ms} ms (agents started included)`);
  t.ok(ms < 20000, `in ${ms} ms`);
  t.match(stderr, /was stopped \(frozen\): killed it, taking over/, 'it says what it did');
  await exited(first);
  t.equal(first.signalCode, 'SIGKILL', 'the frozen up was killed');
  t.ok(
    spawnSync('ls', [mount], { encoding: 'utf8', timeout: 10000 })
      .stdout.split('\n')
      .includes('nodes'),
    'ls of the new view works',
  );
  second.kill('SIGINT');
  await exited(second);
  t.equal(second.exitCode, 0, 'the new up stops cleanly');
  t.equal(mountsOf(mount).length, 0, 'and unmounts');
});
