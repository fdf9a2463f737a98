// Durable process records (native-notes/durable-processes.md) at the unit level: what a
// registry makes of a state directory it finds on start. No agent; a real supervisor in
// the last case only.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaults } from '../src/defaults';
import { parseRecord, readBootId, recordKey } from '../src/agent/process-records';
import { ProcessRegistry } from '../src/agent/processes';
import { agentStarted } from '../src/agent/snapshot';
import { readIdentity } from '../src/agent/watcher';
import { createLogger } from '../src/log';

/** A pid no process has (above the kernel's default pid_max, below PID_LIMIT). */
const PID = 4_000_000;
const boot = readBootId();

function record(o: {
  boot?: string;
  pid?: number;
  starttime: number;
  uid?: number;
  state: string;
  ended?: number;
  read?: number;
  shim?: [number, number];
}): [string, string] {
  const b = o.boot ?? boot;
  const pid = o.pid ?? PID;
  const lines = [
    'gproc-process 1',
    `boot ${b}`,
    `pid ${pid} ${o.starttime}`,
    `uid ${o.uid ?? 0}`,
    `shim ${(o.shim ?? [PID + 1, 1]).join(' ')}`,
    'origin 1 300 300 300',
    `started ${Date.now() - 5000}`,
    `state ${o.state}`,
    ...(o.ended !== undefined ? [`ended ${o.ended}`] : []),
    ...(o.read !== undefined ? [`read ${o.read}`] : []),
  ];
  return [recordKey(b, pid, o.starttime), `${lines.join('\n')}\n`];
}

function stateDir(t: Test, files: [string, string][]): string {
  const dir = t.testdir();
  mkdirSync(join(dir, 'processes'), { recursive: true });
  for (const [name, text] of files) writeFileSync(join(dir, 'processes', name), text);
  return dir;
}

const registry = (t: Test, dir: string) => {
  const r = new ProcessRegistry({
    procRoot: '/proc',
    log: createLogger('test', {}, 'silent'),
    extraEnv: {},
    stateDir: dir,
  });
  t.teardown(() => r.close());
  return r;
};

t.test('a reused pid: two statuses of one pid, told apart by start time, both kept', async (t) => {
  const now = Date.now();
  const first = record({ starttime: 1000, uid: 65534, state: 'exited 1', ended: now - 2000 });
  const second = record({ starttime: 2000, state: 'killed 15', ended: now - 1000 });
  const dir = stateDir(t, [first, second]);
  const r = registry(t, dir);
  t.same(
    r.endedProcesses().map((p) => [p.pid, p.starttime, p.status]),
    [
      [PID, 1000, { code: 1 }],
      [PID, 2000, { signal: 'SIGTERM' }],
    ],
    'both held, oldest first',
  );
  t.equal(r.owner(PID, 1000), 65534, 'each its own owner');
  t.equal(r.owner(PID, 2000), 0);
  t.same(await r.wait(PID, 1000), { code: 1 });
  t.same(await r.wait(PID, 2000), { signal: 'SIGTERM' });
  t.same(await r.wait(PID, 0), { signal: 'SIGTERM' }, 'start time 0: the latest');
  const text = readFileSync(join(dir, 'processes', first[0]), 'utf8');
  t.match(text, /\nread \d+\n$/, 'the first read is recorded on disk');
  t.equal(
    readFileSync(join(dir, 'processes', second[0]), 'utf8').match(/^read /gm)?.length,
    1,
    'once',
  );
  // A new registry (a restarted agent) still has both, and the read times.
  const again = registry(t, dir);
  t.equal(again.endedProcesses().length, 2);
  t.ok(
    again.endedProcesses().every((p) => p.readAt !== undefined),
    'read times survive',
  );
});

t.test('what a restarted agent drops', async (t) => {
  const now = Date.now();
  const kept = record({ starttime: 10, state: 'exited 0', ended: now - 1000 });
  const otherBoot = record({
    boot: '00000000-0000-0000-0000-000000000000',
    starttime: 11,
    state: 'exited 0',
    ended: now - 1000,
  });
  const tooOld = record({
    starttime: 12,
    state: 'exited 0',
    ended: now - defaults.exitStatusRetentionMs - 1000,
  });
  const readLongAgo = record({
    starttime: 13,
    state: 'exited 0',
    ended: now - 5000,
    read: now - defaults.exitStatusAfterReadMs - 1000,
  });
  // Running by its record, but neither it nor its supervisor runs: its end was lost.
  const lost = record({ starttime: 14, state: 'running' });
  const dir = stateDir(t, [
    kept,
    otherBoot,
    tooOld,
    readLongAgo,
    lost,
    [`.tmp.${PID}.${kept[0]}`, 'torn'],
    ['notes.txt', 'not a record\n'],
  ]);
  const r = registry(t, dir);
  t.same(
    r.endedProcesses().map((p) => p.starttime),
    [10],
    'only the current one is held',
  );
  t.same(await r.wait(PID, 14), { gone: true }, 'a lost one waits as gone');
  t.same(
    readdirSync(join(dir, 'processes')).sort(),
    [kept[0], 'notes.txt'].sort(),
    'stale files removed, a foreign file left alone',
  );
});

t.test('at most maxHeldExitStatuses, oldest first out', async (t) => {
  const now = Date.now();
  const n = defaults.maxHeldExitStatuses + 3;
  const files = Array.from({ length: n }, (_, i) =>
    record({ pid: 1_000_000 + i, starttime: 1, state: `exited ${i % 256}`, ended: now - n + i }),
  );
  const dir = stateDir(t, files);
  const r = registry(t, dir);
  const held = r.endedProcesses();
  t.equal(held.length, defaults.maxHeldExitStatuses);
  t.equal(held[0].pid, 1_000_003, 'the three oldest went');
  t.equal(
    readdirSync(join(dir, 'processes')).length,
    defaults.maxHeldExitStatuses,
    'and their files',
  );
  t.notOk(existsSync(join(dir, 'processes', files[0][0])));
});

t.test('records that are not whole are refused', async (t) => {
  const [key, text] = record({ starttime: 5, state: 'exited 2', ended: 1 });
  t.same(parseRecord(key, text).status, { code: 2 });
  t.throws(
    () => parseRecord(key, text.slice(0, -1)),
    /not a gproc process record/,
    'no final newline: torn',
  );
  t.throws(
    () => parseRecord(recordKey(boot, PID, 6), text),
    /its name/,
    'a name that is not its key',
  );
  t.throws(() => parseRecord(key, text.replace('exited 2', 'exited x')), /bad state/);
  t.throws(() => parseRecord(key, text.replace(/ended 1\n/, '')), /no ended/);
});

/** A child that sleeps until killed (a stand-in supervisor), with its start time. */
async function sleeper(t: Test) {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await once(child, 'spawn');
  t.teardown(() => child.kill('SIGKILL'));
  const seen = readIdentity('/proc', child.pid!);
  if (!seen) throw new Error(`sleep ${child.pid} is not in /proc`);
  return { child, shim: [child.pid!, seen.starttime] as [number, number] };
}

/** Whether `p` settles within `ms`. */
const settles = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

t.test('a running record is followed through its supervisor', async (t) => {
  const recorded = await sleeper(t);
  const lost = await sleeper(t);
  const ended = record({ starttime: 20, state: 'running', shim: recorded.shim });
  const unrecorded = record({ starttime: 21, state: 'running', shim: lost.shim });
  const dir = stateDir(t, [ended, unrecorded]);
  const r = registry(t, dir);
  t.equal(r.owner(PID, 20), 0, 'live while its supervisor runs');
  const waits = [r.wait(PID, 20), r.wait(PID, 21)];
  t.equal(await settles(Promise.race(waits), 600), false, 'pending while the supervisors run');
  // One supervisor records the end before it goes; the other goes without a word.
  writeFileSync(
    join(dir, 'processes', ended[0]),
    record({ starttime: 20, state: 'exited 3', ended: Date.now(), shim: recorded.shim })[1],
  );
  recorded.child.kill('SIGTERM');
  lost.child.kill('SIGTERM');
  // (settles: the registry's own polling does not keep the event loop alive; an agent's server does)
  t.equal(await settles(Promise.all(waits), 5000), true, 'both waits end');
  t.same(await waits[0], { code: 3 }, 'the recorded status');
  t.same(await waits[1], { gone: true }, 'gone: nobody holds its status');
  t.same(readdirSync(join(dir, 'processes')), [ended[0]], 'the lost one has no record left');
});

t.test('a reading that missed a process ended at once finds its status, not nothing', async (t) => {
  // spawn, then at once `<gpid>/wait`: the reading a mount gets may come after the
  // supervisor recorded the status, reaped the process and exited, but before this agent's
  // event loop took the supervisor's exit. Spinning here, the loop takes nothing meanwhile.
  const r = registry(t, stateDir(t, []));
  const p = await r.start(
    {
      argv: ['sh', '-c', 'kill -KILL $$'],
      shellCommand: '',
      env: ['PATH=/usr/bin:/bin'],
      cwd: '/',
      uid: 0,
      gid: 0,
      groups: [],
    },
    'ignore',
  );
  const shim = p.child.pid!;
  const shimState = () => /\) (\S)/.exec(readFileSync(`/proc/${shim}/stat`, 'latin1'))?.[1];
  const until = Date.now() + 10000;
  while ((existsSync(`/proc/${p.pid}`) || shimState() !== 'Z') && Date.now() < until);
  t.notOk(existsSync(`/proc/${p.pid}`), 'the process is gone from /proc');
  t.equal(shimState(), 'Z', 'its supervisor has exited: a zombie until this event loop reaps it');
  t.same(
    r.started().map((s) => s.pid),
    [p.pid],
    'the registry has not noticed: still live',
  );
  // A reading of /proc that did not list it.
  const { started, ended } = agentStarted(r, new Map());
  t.same(started, [], 'not live any more');
  t.same(
    ended!.map((e) => [e.pid, e.starttime, e.status]),
    [[p.pid, p.starttime, { signal: 'SIGKILL' }]],
    'ended, with its status',
  );
  t.same(await p.exited, { signal: 'SIGKILL' }, 'its wait answers the same');
  // The supervisor's exit, taken now, changes nothing.
  await new Promise((done) => setTimeout(done, 200));
  t.same(
    r.endedProcesses().map((e) => [e.pid, e.status]),
    [[p.pid, { signal: 'SIGKILL' }]],
    'held once',
  );
});
