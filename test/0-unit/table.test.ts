// The table builder (src/cluster/table.ts) over hand-built snapshots of the fixture tree:
// gpids, global parents, groups and sessions, the cluster btime and per-node start shift,
// down nodes and held exit statuses. No root, no FUSE.
import t from 'tap';
import { buildTable } from '../../src/cluster/table';
import { encodeGpid as g } from '../../src/gpid';
import { config, down, FIXTURE_BTIME, snapshot, table, up } from '../helpers/tables';

// Fixture processes (test/fixtures/proc): pid, its ppid, pgrp and session, its starttime.
//   1 init     ppid 0    pgrp 1     session 1     starttime 1
//   2 kthreadd ppid 0    pgrp 0     session 0     starttime 2
//   6551 hostile ppid 1  pgrp 6507  session 1079  starttime 131026
//   700 zombie ppid 6551 pgrp 6507  session 1079  starttime 131026
//   800 worker ppid 1    pgrp 800   session 800   starttime 131026 (3 threads)
//   900 a stat that does not parse: the agent leaves it out (procfs.test.ts)

t.test('processes of every up node by gpid, ids translated, starttimes shifted', async (t) => {
  const bad: string[] = [];
  // Node 2 booted 100 s before node 1: the cluster btime is node 2's, node 1's starttimes
  // move 100 s * 100 ticks later.
  // A process whose stat no longer parses (sent by an agent of another version, say).
  const garbled = { ...snapshot(2).processes[0], pid: 901, stat: Buffer.from('901 garbage') };
  const two = snapshot(2, { bootOffset: 100 });
  const tab = buildTable(
    [up(1), { config: config(2), snapshot: { ...two, processes: [...two.processes, garbled] } }],
    undefined,
    7,
    (node, pid) => bad.push(`${node}:${pid}`),
  );
  t.equal(tab.btime, FIXTURE_BTIME - 100, 'btime: the earliest boot');
  t.equal(tab.generation, 7);
  t.same(
    [...tab.nodes.values()].map((n) => [n.config.id, n.state, n.startShift]),
    [
      [1, 'up', 10000],
      [2, 'up', 0],
    ],
    'per node: state and start shift in clock ticks',
  );
  t.same(bad, ['2:901'], 'a process whose stat does not parse is reported and left out');
  const cases = [
    // gpid, want: ppid, pgrp, session, tpgid, starttime
    { gpid: g(1, 6551), want: [g(1, 1), g(1, 6507), g(1, 1079), -1, 131026 + 10000] },
    { gpid: g(1, 700), want: [g(1, 6551), g(1, 6507), g(1, 1079), -1, 131026 + 10000] },
    { gpid: g(1, 800), want: [g(1, 1), g(1, 800), g(1, 800), -1, 131026 + 10000] },
    { gpid: g(2, 6551), want: [g(2, 1), g(2, 6507), g(2, 1079), -1, 131026] },
    {
      gpid: g(2, 2),
      want: [1, 0, 0, -1, 2],
      why: "parent 0: the cluster's root; group and session 0 stay 0",
    },
    { gpid: g(1, 1), want: [1, g(1, 1), g(1, 1), -1, 1 + 10000] },
  ];
  for (const c of cases) {
    const p = tab.processes.get(c.gpid);
    if (!p) {
      t.fail(`${c.gpid} is listed`);
      continue;
    }
    const have = [p.pgrp, p.session, p.tpgid, p.starttime];
    const want = c.want.slice(1);
    t.equal(p.ppid, c.want[0], `${c.gpid}: ppid`);
    t.same(have, want, `${c.gpid}: pgrp, session, tpgid, starttime${c.why ? ` (${c.why})` : ''}`);
  }
  const pids = [1, 2, 700, 800, 6551];
  t.same(
    [...tab.processes.keys()],
    [1, ...pids.map((pid) => g(1, pid)), ...pids.map((pid) => g(2, pid))],
    "listed by gpid, ascending: the cluster's root first",
  );
});

t.test('a process an agent started shows its requester as parent, group and session', async (t) => {
  // Node 2's 800 was started for node 1's 700 (group 6507, session 1079); node 3's 800 for
  // node 2's 800 in turn: groups and sessions follow both hops.
  const origin = (node: number, pid: number, pgrp: number, session: number) => ({
    node,
    pid,
    pgrp,
    session,
  });
  const tab = table(
    up(1),
    up(2, { started: [{ pid: 800, starttime: 131026, origin: origin(1, 700, 6507, 1079) }] }),
    up(3, { started: [{ pid: 800, starttime: 131026, origin: origin(2, 800, 800, 800) }] }),
  );
  const cases = [
    { gpid: g(2, 800), want: { ppid: g(1, 700), pgrp: g(1, 6507), session: g(1, 1079) } },
    { gpid: g(3, 800), want: { ppid: g(2, 800), pgrp: g(1, 6507), session: g(1, 1079) } },
    { gpid: g(2, 6551), want: { ppid: g(2, 1), pgrp: g(2, 6507), session: g(2, 1079) } },
  ];
  for (const { gpid, want } of cases) {
    const p = tab.processes.get(gpid)!;
    t.same({ ppid: p.ppid, pgrp: p.pgrp, session: p.session }, want, `${gpid}`);
  }
  t.same(
    tab.groupMembers(g(1, 6507)).map((p) => p.gpid),
    [g(1, 700), g(1, 6551), g(2, 800), g(3, 800)],
    'the global group spans the nodes',
  );
  t.same(tab.groupMembers(0), [], 'group 0 has no members');
});

t.test('down nodes, held exit statuses, and what a refresh keeps', async (t) => {
  const first = table(up(1), up(2, { bootOffset: 50 }));
  const second = buildTable(
    [
      up(1, {
        ended: [
          { pid: 4242, starttime: 99, status: { outcome: 'code', code: 3 }, uid: 1000 },
          { pid: 4243, starttime: 99, status: null, uid: 0 },
        ],
      }),
      { ...down(2, 'deadline exceeded'), info: first.nodes.get(2)!.info },
    ],
    first,
    2,
  );
  const n2 = second.nodes.get(2)!;
  t.same(
    [n2.state, n2.error, n2.info?.name],
    ['down', 'deadline exceeded', 'n2'],
    'down, info kept',
  );
  t.equal(second.btime, first.btime, 'btime does not move later when the earliest node is down');
  t.same(
    [...second.processes.keys()].map((gpid) => gpid >>> 22),
    [0, 1, 1, 1, 1, 1],
    "the cluster's root (node 0) and only the up node's processes",
  );
  t.same(
    [...second.ended.values()],
    [{ gpid: g(1, 4242), node: 1, starttime: 99, status: { outcome: 'code', code: 3 }, uid: 1000 }],
    'held statuses (an entry without a status is none)',
  );
  t.equal(
    second.processes.get(g(1, 800))!.stat,
    first.processes.get(g(1, 800))!.stat,
    'an unchanged stat is not parsed again',
  );
  t.same(
    second.upNodes().map((n) => n.config.id),
    [1],
  );
  t.same([...table(down(1)).processes.keys()], [1], "no node up: the cluster's root alone");
  t.ok(table(down(1)).btime > 0, 'and a btime all the same');
  t.equal(config(1).name, 'n1');
});

t.test('threads of a process: carried ones by tid, else the process alone', async (t) => {
  const tab = table(up(1));
  const worker = tab.processes.get(g(1, 800))!;
  const init = tab.processes.get(g(1, 1))!;
  const { threadIds, hasThread, threadStat } = await import('../../src/cluster/table');
  t.same(threadIds(worker), [800, 801, 802], 'the threads the snapshot carries');
  t.same(threadIds(init), [1], 'a single-threaded process: itself');
  t.same(
    [hasThread(worker, 801), hasThread(worker, 803), hasThread(init, 2)],
    [true, false, false],
  );
  t.equal(threadStat(worker, 801).pid, 801, "a thread's own stat");
  t.equal(threadStat(init, 1), init.stat, "the process's own when not carried");
  t.ok(snapshot(1).processes.length > 0);
});
