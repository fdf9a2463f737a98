// A busy node is not a gone node (issues 9 and 12): an agent whose main thread is held up
// (a long reading of /proc, a stalled event loop) while its heartbeat thread still answers
// stays `up` in the view and its processes stay listed, from the mount's replica of its
// table; when it goes on, its stream comes back and what changed meanwhile is listed.
//
// The hold-up is exact: ptrace(PTRACE_SEIZE + PTRACE_INTERRUPT) stops the agent's main
// thread alone (a SIGSTOP would stop every thread, the heartbeat's too: that is the frozen
// node of faults.test.ts). Longer than the connections' keepalive timeout, so the stream
// is dropped and must be opened again. Meanwhile the listing's age (`nodes/2/age`, and the
// AGE column of `gproc nodes`) grows: the view says how old what it lists is.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { defaults } from '../src/defaults';
import { encodeGpid } from '../src/gpid';
import { GPROC, startCluster, waitFor } from './helpers/cluster';
import { sleeper, startMount } from './helpers/mount';

/** Stops thread `tid` alone until the returned function is called (or 60 s pass). */
async function holdThread(tid: number): Promise<() => Promise<void>> {
  const py = `
import ctypes, os, signal, sys
signal.alarm(60)
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
tid = int(sys.argv[1])
for req in (PTRACE_SEIZE, PTRACE_INTERRUPT):
    if libc.ptrace(req, tid, None, None) != 0:
        sys.exit("ptrace: " + os.strerror(ctypes.get_errno()))
print("held", flush=True)
sys.stdin.read()  # until the test closes it; exiting detaches the thread, which goes on
`;
  const child = spawn('python3', ['-c', py, String(tid)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the ptrace helper exited with ${code}`)));
  });
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await exited;
  };
}

t.test('an agent whose main thread is held up stays up and listed', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  const [, n2] = cluster.nodes;
  const mount = await startMount(t, cluster, { node: 1 });
  const M = mount.mountPoint;
  const state = () => readFileSync(`${M}/nodes/2/state`, 'utf8').trim();
  const age = () => Number(readFileSync(`${M}/nodes/2/age`, 'utf8'));
  /** Node 2's AGE column from `gproc nodes` over this mount, in seconds. */
  const nodesAge = () => {
    const r = spawnSync(
      GPROC[0],
      [...GPROC.slice(1), 'nodes', '--config', cluster.configPath, '--mount', M],
      { encoding: 'utf8', timeout: 20000 },
    );
    const line = r.stdout.split('\n').find((l) => l.startsWith('2 '));
    return Number(/\s(\d+\.\d+)s$/.exec(line ?? '')?.[1]);
  };
  const listed = (pid: number) => readdirSync(M).includes(String(encodeGpid(2, pid)));
  const before = sleeper(n2);
  await waitFor('the first sleeper listed', () => listed(before) || undefined);
  const quietAge = age();
  t.ok(quietAge >= 0 && quietAge < 5, `a node that keeps up: listing ${quietAge} s old`);

  const release = await holdThread(n2.agentPid()!);
  let released = false;
  t.teardown(() => (released ? undefined : release()));
  // While held: more than the keepalive timeout, so its stream is dropped.
  const heldMs = defaults.keepaliveTimeMs + defaults.keepaliveTimeoutMs + 2000;
  const t0 = performance.now();
  const samples: { state: string; listed: boolean; ms: number; age: number }[] = [];
  while (performance.now() - t0 < heldMs) {
    const s0 = performance.now();
    samples.push({
      state: state(),
      listed: listed(before),
      ms: performance.now() - s0,
      age: age(),
    });
    await new Promise((r) => setTimeout(r, 250));
  }
  const heldAge = nodesAge(); // still held: the column shows the listing's age
  const during = sleeper(n2); // started while the agent cannot see it
  await release();
  released = true;
  const worst = Math.max(...samples.map((s) => s.ms));
  t.comment(`held ${heldMs} ms: ${samples.length} looks, slowest ${worst.toFixed(0)} ms`);
  t.same(
    samples.filter((s) => s.state !== 'up'),
    [],
    'nodes/2/state said up at every look (its heartbeat answered)',
  );
  t.same(
    samples.filter((s) => !s.listed),
    [],
    'its process was listed at every look (from the replica)',
  );
  t.ok(
    worst < defaults.rpcDeadlineMs,
    `no look waited for the node (slowest ${worst.toFixed(0)} ms)`,
  );
  // Held for heldMs: the last reading it sent is at least that old, less the kernel's cache.
  const oldest = Math.max(...samples.map((s) => s.age));
  const lowest = (heldMs - 1000 * defaults.kernelCacheSeconds - 1000) / 1000;
  t.ok(oldest >= lowest, `nodes/2/age grew while held: ${oldest} s (at least ${lowest})`);
  t.ok(heldAge >= lowest, `gproc nodes showed its AGE: ${heldAge} s (at least ${lowest})`);

  const back = performance.now();
  await waitFor(
    'the process started while it was held listed',
    () => listed(during) || undefined,
    15000,
  );
  t.comment(`listed ${(performance.now() - back).toFixed(0)} ms after the agent went on`);
  t.ok(listed(before), 'and the first one still is');
  await waitFor('its listing fresh again', () => age() < quietAge + 2 || undefined, 15000);
  t.pass(`nodes/2/age back to ${age()} s once it went on`);
});
