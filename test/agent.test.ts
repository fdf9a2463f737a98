// Three agents on loopback, each in its own PID namespace with a
// hostile comm, a zombie, a 200 KiB cmdline and a threaded process; every snapshot agrees
// byte for byte with what that namespace's /proc says. Also: the agent's error codes.
import t from 'tap';
import { status } from '@grpc/grpc-js';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { listPids } from '../src/procfs/read';
import { parsePidStat } from '../src/procfs/stat';
import { parseSystemStat } from '../src/procfs/system-stat';
import type { Snapshot__Output } from '../src/proto/gen/gproc/v1/Snapshot';
import type { TableUpdate__Output } from '../src/proto/gen/gproc/v1/TableUpdate';
import { readInNode, startCluster, type TestNode } from './helpers/cluster';

const PATH = ['PATH=/usr/bin:/bin'];

const FILES = ['stat', 'status', 'statm', 'cmdline', 'environ', 'cgroup'] as const;

/**
 * status with its SigQ line masked: SigQ counts the signals queued for the process's real
 * uid (all of root's processes, proc(5)), so it changes whenever any root process has a
 * signal pending, as other tests' do. Every other byte is the process's own.
 */
function ownStatus(status: Buffer): string {
  return status.toString('latin1').replace(/^SigQ:\t\d+\//m, 'SigQ:\t*/');
}

/** Reads node files as a process of that node would; unreadable files read as empty. */
function nsFiles(node: TestNode, paths: string[]): (path: string) => Buffer {
  const got = readInNode(node, paths);
  return (path) => got.get(path) ?? Buffer.alloc(0);
}

t.test('three agents in their own PID namespaces', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, fixtures: true });

  for (const node of cluster.nodes) {
    t.test(`node ${node.id}: the snapshot agrees with the namespace's /proc`, async (t) => {
      const snap: Snapshot__Output = await node.client.snapshot(10000);
      const fx = node.fixtures!;
      const tids = listPids(`${node.procRoot}/${fx.threads}/task`);
      const wanted = [
        ...Object.values(fx).flatMap((pid) => FILES.map((f) => `${pid}/${f}`)),
        ...tids.flatMap((tid) => [
          `${fx.threads}/task/${tid}/stat`,
          `${fx.threads}/task/${tid}/status`,
        ]),
        ...snap.processes.map((p) => `${p.pid}/cmdline`),
        'stat',
        'uptime',
        'meminfo',
        'cpuinfo',
        'sys/kernel/osrelease',
        'sys/kernel/sched_autogroup_enabled',
      ];
      const nsFile = nsFiles(node, wanted);
      t.equal(snap.node!.id, node.id);
      t.equal(snap.node!.name, node.name);
      t.ok(
        snap.takenAtMs <= Date.now() && snap.takenAtMs > Date.now() - 60000,
        'taken_at_ms is now',
      );

      const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
      const nsPids = listPids(node.procRoot);
      t.ok(byPid.has(1), 'the namespace init is pid 1 of its own node');
      for (const pid of Object.values(fx)) t.ok(byPid.has(pid), `fixture pid ${pid} listed`);
      const missing = nsPids.filter((p) => !byPid.has(p));
      t.ok(
        missing.length <= 1,
        `every process of the namespace is listed (missing: ${missing.join(' ')})`,
      );

      // The fixtures are asleep: every file they have must match byte for byte.
      for (const [what, pid] of Object.entries(fx)) {
        const p = byPid.get(pid)!;
        for (const f of FILES) {
          const msg = `${what} (${pid}) ${f} byte for byte`;
          // status as text, so that a failure shows which line differs
          if (f === 'status') t.equal(ownStatus(p[f]), ownStatus(nsFile(`${pid}/${f}`)), msg);
          else t.ok(p[f].equals(nsFile(`${pid}/${f}`)), msg);
        }
        t.equal(p.starttime, parsePidStat(nsFile(`${pid}/stat`)).starttime, `${what} starttime`);
        t.equal(p.uid, 0);
      }
      // Files that do not change while a process runs match for every process.
      let same = 0;
      for (const p of snap.processes) if (p.cmdline.equals(nsFile(`${p.pid}/cmdline`))) same++;
      t.ok(
        same >= snap.processes.length - 1,
        `cmdline of every process (${same}/${snap.processes.length})`,
      );

      const hostile = parsePidStat(byPid.get(fx.hostile)!.stat);
      t.equal(hostile.comm, 'x) (y\nz w', 'hostile comm survives');
      const zombie = byPid.get(fx.zombie)!;
      t.equal(parsePidStat(zombie.stat).state, 'Z', 'zombie listed as Z');
      t.equal(zombie.cmdline.length, 0, 'zombie has an empty cmdline');
      t.equal(parsePidStat(zombie.stat).ppid, fx.zombie_parent);
      const big = byPid.get(fx.bigcmd)!;
      t.ok(big.cmdline.length > 200 * 1024, `cmdline of ${big.cmdline.length} bytes carried whole`);
      t.ok(big.cmdline.subarray(-4).equals(Buffer.from('end\0')), 'to its last byte');
      const threaded = byPid.get(fx.threads)!;
      t.same(
        threaded.threads.map((x) => x.tid),
        tids,
        'every thread carried',
      );
      for (const th of threaded.threads) {
        t.ok(th.stat.equals(nsFile(`${fx.threads}/task/${th.tid}/stat`)), `thread ${th.tid} stat`);
        t.equal(
          ownStatus(th.status),
          ownStatus(nsFile(`${fx.threads}/task/${th.tid}/status`)),
          `thread ${th.tid} status`,
        );
      }

      const files = snap.node!.files!;
      t.match(files.meminfo.toString(), /^MemTotal: +\d+ kB$/m, 'meminfo carried');
      t.equal(
        parseSystemStat(files.stat).btime,
        parseSystemStat(nsFile('stat')).btime,
        "btime as the node's processes see it",
      );
      t.ok(files.cpuinfo.equals(nsFile('cpuinfo')), 'cpuinfo byte for byte');
      t.ok(files.osrelease.equals(nsFile('sys/kernel/osrelease')), 'osrelease byte for byte');
      t.ok(
        files.schedAutogroupEnabled.equals(nsFile('sys/kernel/sched_autogroup_enabled')),
        'sched_autogroup_enabled byte for byte',
      );
      const hostBtime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
      t.ok(
        Math.abs(snap.node!.bootTime - (hostBtime - node.bootOffset)) <= 1,
        "boot time is the node's own (time namespace)",
      );
      t.equal(snap.node!.clockTicks, 100);
      t.equal(snap.node!.pageSize, 4096);
    });
  }

  t.test('PIDs collide across nodes, as on real machines', async (t) => {
    const snaps = await Promise.all(cluster.nodes.map((n) => n.client.snapshot(10000)));
    const pidSets = snaps.map((s) => new Set(s.processes.map((p) => p.pid)));
    t.ok(
      pidSets.every((s) => s.has(1)),
      'every node has a pid 1',
    );
  });

  t.test(
    'a Watch stream opened after a spawn lists the process in its first message',
    async (t) => {
      const node = cluster.nodes[1];
      // A stream that keeps the table read every interval, so that its last reading is recent.
      const keeper = node.client.watch();
      t.teardown(() => keeper.cancel());
      keeper.on('error', () => {}); // cancelled at the end
      for (let round = 0; round < 3; round++) {
        // Just after a reading: the spawn lands in the same interval, before the next one.
        await once(keeper, 'data');
        const { pid } = await node.client.spawn({ shellCommand: 'sleep 30', env: PATH, cwd: '/' });
        const fresh = node.client.watch();
        const [first] = (await once(fresh, 'data')) as [TableUpdate__Output];
        fresh.on('error', () => {});
        fresh.cancel();
        t.ok(first.full, `round ${round}: the first message is the whole table`);
        t.ok(
          first.changed.some((p) => p.pid === pid),
          `round ${round}: it lists the process spawned just before (pid ${pid})`,
        );
        await node.client.signal({ targets: [{ pid, starttime: 0 }], signal: 9 });
      }
    },
  );

  t.test('one file on demand, usage, and the error codes', async (t) => {
    const node = cluster.nodes[0];
    const fx = node.fixtures!;
    const snap = await node.client.snapshot(10000);
    const starttime = snap.processes.find((p) => p.pid === fx.hostile)!.starttime;
    const io = await node.client.readFile({ pid: fx.hostile, starttime }, 'IO');
    t.match(io.toString(), /^rchar: \d+/, 'io on demand');
    const task = await node.client.readFile(
      { pid: fx.threads, starttime: 0 },
      'STAT',
      listPids(`${node.procRoot}/${fx.threads}/task`)[1],
    );
    t.match(task.toString(), /^\d+ \(python3\) S /, 'a thread file on demand');
    const usage = await node.client.usage({ pid: fx.bigcmd, starttime: 0 });
    t.ok(usage.memoryBytes > 1024 * 1024, `usage memory ${usage.memoryBytes} bytes`);
    t.ok(usage.elapsedMs > 0, `usage elapsed ${usage.elapsedMs} ms`);

    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'OK',
        (e: { code: number }) => e.code,
      );
    t.equal(
      await code(node.client.readFile({ pid: 4000000, starttime: 0 }, 'STAT')),
      status.NOT_FOUND,
      'gone process: NOT_FOUND',
    );
    t.equal(
      await code(node.client.readFile({ pid: fx.hostile, starttime: starttime + 1 }, 'STAT')),
      status.NOT_FOUND,
      'reused pid: NOT_FOUND',
    );
    t.equal(
      await code(node.client.readFile({ pid: 0, starttime: 0 }, 'STAT')),
      status.INVALID_ARGUMENT,
      'pid 0: INVALID_ARGUMENT',
    );
    t.equal(
      await code(node.client.readFile({ pid: 1, starttime: 0 }, 'PROCESS_FILE_UNSPECIFIED')),
      status.INVALID_ARGUMENT,
      'no file: INVALID_ARGUMENT',
    );
    t.equal(
      await code(node.client.readFile({ pid: 1, starttime: 0 }, 99 as never)),
      status.INVALID_ARGUMENT,
      'unknown enum: INVALID_ARGUMENT',
    );
    const otherThread = listPids(`${node.procRoot}/${fx.threads}/task`)[1];
    const notMine = await node.client
      .readFile({ pid: fx.hostile, starttime }, 'LIMITS', otherThread)
      .then(
        () => undefined,
        (e: { code: number; message: string }) => e,
      );
    t.equal(notMine?.code, status.NOT_FOUND, "another process's thread: NOT_FOUND");
    t.match(
      notMine?.message,
      `process ${fx.hostile} has no thread ${otherThread}`,
      'saying the thread is not one of the process (which is not gone)',
    );
    t.equal(await code(node.client.usage({ pid: 4000000, starttime: 0 })), status.NOT_FOUND);
    t.equal(
      await code(node.client.signal({ targets: [{ pid: 1 }], signal: 999 })),
      status.INVALID_ARGUMENT,
      'signal 999',
    );
    t.equal(
      await code(node.client.signal({ targets: [], signal: 0 })),
      status.INVALID_ARGUMENT,
      'no targets',
    );
    t.equal(
      await code(node.client.nodeInfo()),
      'OK',
      'the agent is still serving after bad requests',
    );

    // A thread id answers in /proc too, but is no process: kill(2) on it would hit the whole process.
    const tid = listPids(`${node.procRoot}/${fx.threads}/task`).find((x) => x !== fx.threads)!;
    const [r] = await node.client.signal({ targets: [{ pid: tid, starttime: 0 }], signal: 15 });
    t.equal(r.outcome, 'NO_SUCH_PROCESS', 'a signal for a thread id is refused');
    t.equal(
      await code(node.client.usage({ pid: tid, starttime: 0 })),
      status.NOT_FOUND,
      'a thread id is no process',
    );
    t.ok(listPids(node.procRoot).includes(fx.threads), 'the threaded process lives on');
  });
});
