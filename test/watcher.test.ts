// The agent's one poller of /proc, without an agent: waits until a process is gone.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ProcessWatcher, readIdentity } from '../src/agent/watcher';

/** A pid no process has (above the kernel's default pid_max, below PID_LIMIT). */
const NO_PID = 4_000_000;

/** A child that sleeps until killed, with its start time. */
async function sleeper(t: Test) {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const pid = child.pid!;
  t.teardown(() => child.kill('SIGKILL'));
  const seen = readIdentity('/proc', pid);
  if (!seen) throw new Error(`sleep ${pid} is not in /proc`);
  return { child, pid, starttime: seen.starttime };
}

/** Whether `p` settles within `ms`. */
const settles = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

t.test(
  'untilGone: at once for no process, or for a pid that names another start time',
  async (t) => {
    const w = new ProcessWatcher('/proc');
    t.equal(await settles(w.untilGone(NO_PID, 0), 50), true, 'no such pid');
    const s = await sleeper(t);
    t.equal(await settles(w.untilGone(s.pid, s.starttime + 1), 50), true, 'another start time');
    t.equal(await settles(w.untilGone(s.pid, s.starttime), 600), false, 'the running one: pending');
  },
);

t.test('untilGone: settles once the process ended, for every waiter', async (t) => {
  const w = new ProcessWatcher('/proc');
  const s = await sleeper(t);
  const byIdentity = w.untilGone(s.pid, s.starttime);
  const byPid = w.untilGone(s.pid, 0);
  t.equal(await settles(Promise.race([byIdentity, byPid]), 300), false, 'pending while it runs');
  s.child.kill('SIGTERM');
  t.equal(await settles(Promise.all([byIdentity, byPid]), 2000), true, 'both settle after it ends');
});

t.test('untilGone: an aborted wait settles at once and the process is left alone', async (t) => {
  const w = new ProcessWatcher('/proc');
  const s = await sleeper(t);
  const abort = new AbortController();
  const waiting = w.untilGone(s.pid, s.starttime, abort.signal);
  abort.abort();
  t.equal(await settles(waiting, 50), true, 'settled by the abort');
  t.ok(readIdentity('/proc', s.pid), 'the process still runs');
  t.equal(
    await settles(w.untilGone(s.pid, s.starttime, abort.signal), 50),
    true,
    'already aborted',
  );
});

t.test('events and waits share one watcher: exits are still emitted', async (t) => {
  const w = new ProcessWatcher('/proc');
  const s = await sleeper(t);
  const exits: number[] = [];
  w.on('exit', (p) => exits.push(p.pid));
  w.acquire();
  t.teardown(() => w.release());
  const gone = w.untilGone(s.pid, s.starttime);
  s.child.kill('SIGTERM');
  await gone;
  // The listing that notices the exit may come a tick after the wait settled.
  for (let i = 0; i < 20 && !exits.includes(s.pid); i++)
    await new Promise((r) => setTimeout(r, 100));
  t.ok(exits.includes(s.pid), 'its exit was emitted');
});
