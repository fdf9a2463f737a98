// The agent's process table (src/agent/table.ts) over a copy of the fixture tree that the
// test changes between readings, and a mount's replica (src/cluster/replica.ts) fed the
// updates: records of unchanged processes are the same objects from one reading to the
// next, an update carries exactly what changed, and the replica always equals the table.
// No root, no FUSE, no agent.
import t, { type Test } from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReaderPool } from '../../src/agent/reader-pool';
import { ProcessTable, diffTable, sameRecord, type TableState } from '../../src/agent/table';
import { Replica } from '../../src/cluster/replica';
import { createLogger } from '../../src/log';
import type { Process__Output } from '../../src/proto/gen/gproc/v1/Process';
import type { TableUpdate } from '../../src/proto/gen/gproc/v1/TableUpdate';
import type { TableUpdate__Output } from '../../src/proto/gen/gproc/v1/TableUpdate';
import { FIXTURE } from '../helpers/tables';

const root = mkdtempSync(join(tmpdir(), 'gproc-table-'));
cpSync(FIXTURE, root, { recursive: true });
rmSync(join(root, '900'), { recursive: true }); // its stat does not parse (procfs.test.ts)
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const log = createLogger('test', {}, 'silent');
const table = new ProcessTable(root, { id: 1, name: 'n1' }, new ReaderPool(root, 0), log);
t.teardown(() => table.close());

/** An update as it arrives at the mount (every field present, as proto-loader decodes). */
const received = (u: TableUpdate): TableUpdate__Output =>
  ({ started: [], ended: [], answers: 0, ...u }) as TableUpdate__Output;

const pidsOf = (list: readonly { pid?: number }[] | undefined) =>
  (list ?? []).map((p) => p.pid!).sort((a, b) => a - b);

function replicaEquals(t: Test, replica: Replica, state: TableState, what: string) {
  const snap = replica.snapshot();
  t.same(pidsOf(snap.processes), [...state.processes.keys()], `${what}: the same processes`);
  t.ok(
    snap.processes.every((p) => p === state.processes.get(p.pid)),
    `${what}: every record as the table has it`,
  );
}

t.test('readings, updates and a replica', async (t) => {
  const sent = new Map<number, Process__Output>();
  const replica = new Replica();

  const first = await table.read();
  t.same([...first.processes.keys()], [1, 2, 700, 800, 6551], 'every process of the tree');
  const full = diffTable(sent, first, true);
  t.equal(full.changed?.length, 5, 'the first update is the whole table');
  replica.apply(received(full));
  replicaEquals(t, replica, first, 'after the full update');

  const second = await table.read();
  for (const [pid, p] of second.processes)
    t.equal(p, first.processes.get(pid), `pid ${pid}: nothing changed, the same record`);
  const quiet = diffTable(sent, second, false);
  t.same(
    [quiet.changed?.length, quiet.gone],
    [0, []],
    'an update of a quiet node carries no process',
  );

  // Another process of root's has a signal queued: SigQ moves in every root process's status.
  const status1 = join(root, '1', 'status');
  const status = readFileSync(status1, 'latin1');
  writeFileSync(status1, status.replace(/^SigQ:\t\d+/m, 'SigQ:\t7'));
  t.not(readFileSync(status1, 'latin1'), status, 'the fixture now has another SigQ');
  t.ok(
    sameRecord(first.processes.get(1)!, {
      ...first.processes.get(1)!,
      status: readFileSync(status1),
    }),
    'a status that differs only in SigQ is the same record',
  );
  t.notOk(
    sameRecord(first.processes.get(1)!, {
      ...first.processes.get(1)!,
      status: Buffer.from(status.replace('State:', 'State: ')),
    }),
    'any other difference is not',
  );

  // 6551 runs (its stat changes), 700 ends, 4242 starts.
  const stat6551 = join(root, '6551', 'stat');
  writeFileSync(stat6551, readFileSync(stat6551, 'latin1').replace(') S ', ') R '));
  rmSync(join(root, '700'), { recursive: true });
  cpSync(join(root, '1'), join(root, '4242'), { recursive: true });
  writeFileSync(
    join(root, '4242', 'stat'),
    readFileSync(join(root, '1', 'stat'), 'latin1').replace(/^1 /, '4242 '),
  );

  const third = await table.read();
  const delta = diffTable(sent, third, false);
  t.same(pidsOf(delta.changed), [4242, 6551], 'the started and the changed process');
  t.same(delta.gone, [700], 'the ended process');
  t.equal(third.processes.get(1), first.processes.get(1), 'an untouched process keeps its record');
  replica.apply(received(delta));
  replicaEquals(t, replica, third, 'after a delta');

  // A stream that skipped readings (its reader was behind) catches up in one update.
  rmSync(join(root, '4242'), { recursive: true });
  await table.read();
  cpSync(join(root, '1'), join(root, '4343'), { recursive: true });
  writeFileSync(
    join(root, '4343', 'stat'),
    readFileSync(join(root, '1', 'stat'), 'latin1').replace(/^1 /, '4343 '),
  );
  const fifth = await table.read();
  const caughtUp = diffTable(sent, fifth, false);
  t.same([pidsOf(caughtUp.changed), caughtUp.gone], [[4343], [4242]], 'two readings in one update');
  replica.apply(received(caughtUp));
  replicaEquals(t, replica, fifth, 'after catching up');

  // A new stream starts with the whole table; a replica that missed its start ignores deltas.
  const other = new Replica();
  other.apply(received(diffTable(new Map(), fifth, false)));
  t.notOk(other.synced, 'a replica takes no delta before a full update');
  t.same(other.snapshot().processes, [], 'and holds nothing');
});

t.test('a reading asked for during another begins after the request', async (t) => {
  const during = table.read();
  const after = table.readAfterNow();
  const [a, b] = await Promise.all([during, after]);
  t.not(a, b, 'two readings');
  t.ok(b.begunAt >= a.begunAt, 'the second begun after the first');
});
