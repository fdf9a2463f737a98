// The cluster's root (spec section 1): gpid 1, comm `cluster`, owner root, started at the
// cluster's btime, parent of every process whose parent is 0 on its node. First over tables
// built from the fixture tree (test/fixtures/proc), then with three real agents: unmodified
// pstree, ps and psutil over the view show the whole cluster as one tree, for root and for
// an ordinary user, and gpid 1 takes no signal from anyone.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatEvent } from '../src/cluster/events';
import { buildTable, type NodeResult } from '../src/cluster/table';
import type { NodeConfig } from '../src/config';
import { renderStat, renderStatus } from '../src/fs/render';
import { decodeGpid, encodeGpid } from '../src/gpid';
import { parsePidStat, parseStatusLines } from '../src/procfs';
import { readProcess } from '../src/procfs/read';
import type { NodeInfo__Output } from '../src/proto/gen/gproc/v1/NodeInfo';
import { inNamespaces } from '../src/up/nodes';
import { GPROC, startCluster, waitFor } from './helpers/cluster';
import { hex, inView, startMount, writeCases } from './helpers/mount';

const PY = '/usr/bin/python3'; // Debian's, which has python3-psutil
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const FIXTURE = join(__dirname, 'fixtures', 'proc');

/** The root's stat line, byte for byte (proc(5): 52 fields). */
const ROOT_STAT =
  '1 (cluster) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 18446744073709551615 ' +
  '0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n';

/** Value of `key` in a status file. */
const statusOf = (text: Buffer | string, key: string) =>
  parseStatusLines(text).find((l) => l.key === key)?.value;

t.test('tables: the root is listed with no node up, and adopts ppid-0 processes', async (t) => {
  const config = (id: number) =>
    ({ id, name: `n${id}`, address: `127.0.0.1:${7100 + id}` }) as NodeConfig;
  const info = (id: number): NodeInfo__Output => ({
    id,
    name: `n${id}`,
    bootTime: 1700000000 + id,
    clockTicks: 100,
    pageSize: 4096,
    version: 'test',
    files: null,
  });
  // Fixture processes: 1 (init) and 2 (kthreadd) have ppid 0, 800 has ppid 1.
  const processes = [1, 2, 800].map((pid) => readProcess(FIXTURE, pid)!);
  const up = (id: number): NodeResult => ({
    config: config(id),
    snapshot: { node: info(id), takenAtMs: Date.now(), processes, started: [], ended: [] },
  });

  for (const [what, results] of [
    ['no node in the cluster file', []],
    ['every node down, never seen', [{ config: config(1), error: 'unavailable' }]],
  ] as const) {
    const table = buildTable(results, undefined, 1);
    t.same([...table.processes.keys()], [1], `${what}: gpid 1 alone`);
    t.equal(renderStat(table.processes.get(1)!, table).toString(), ROOT_STAT, `${what}: its stat`);
  }

  const table = buildTable([up(1), up(3)], undefined, 1);
  t.same(
    [...table.processes.keys()],
    [1, ...[1, 3].flatMap((n) => [1, 2, 800].map((pid) => encodeGpid(n, pid)))],
    'the root first, then every process by gpid',
  );
  const root = table.processes.get(1)!;
  const stat = parsePidStat(renderStat(root, table));
  t.equal(stat.rest.length + 2, 52, 'stat: 52 fields');
  t.same(
    [stat.pid, stat.comm, stat.state, stat.ppid, stat.numThreads, stat.starttime, stat.rss],
    [1, 'cluster', 'S', 0, 1, 0, 0],
    'pid 1, comm cluster, state S, no parent, one thread, started at btime, no memory',
  );
  const status = renderStatus(root, table);
  t.same(
    ['Name', 'State', 'Tgid', 'Pid', 'PPid', 'Uid', 'Gid', 'Threads'].map((k) =>
      statusOf(status, k),
    ),
    ['cluster', 'S (sleeping)', '1', '1', '0', '0\t0\t0\t0', '0\t0\t0\t0', '1'],
    'status',
  );
  for (const n of [1, 3]) {
    for (const pid of [1, 2]) {
      const p = table.processes.get(encodeGpid(n, pid))!;
      t.equal(p.ppid, 1, `node ${n} pid ${pid} (ppid 0 on its node): ppid 1 in the table`);
      t.equal(parsePidStat(renderStat(p, table)).ppid, 1, 'in its stat');
      t.equal(statusOf(renderStatus(p, table), 'PPid'), '1', 'and its status');
    }
    t.equal(
      table.processes.get(encodeGpid(n, 800))!.ppid,
      encodeGpid(n, 1),
      `node ${n} pid 800: its node's init`,
    );
  }
  t.equal(
    formatEvent(2, {
      kind: 'START',
      pid: 9,
      starttime: 5,
      ppid: 0,
      comm: Buffer.from('x'),
      status: null,
      timeMs: 7,
    }),
    `7 start ${encodeGpid(2, 9)} 1 x\n`,
    'events: a start with ppid 0 names the root as parent',
  );
  t.throws(() => decodeGpid(1), 'gpid 1 decodes to no process of any node (node 0)');
  t.throws(() => encodeGpid(0, 1), 'and no node can have it');
});

t.test("the cluster's root over three real nodes", async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  const mount = await startMount(t, cluster, { node: 1 });
  const M = mount.mountPoint;
  const inits = cluster.nodes.map((n) => encodeGpid(n.id, 1));

  // A process whose parent lies outside its node's PID namespace (nsenter's child): ppid 0 there.
  const [nsenter, ...args] = inNamespaces(cluster.node(2).initPid);
  const outsider = spawn(nsenter, [...args, 'sleep', '1009'], { stdio: 'ignore' });
  t.teardown(() => outsider.kill('SIGKILL')); // the sleep ends with its node
  const outsiderGpid = await waitFor('the sleep entered from outside, in the view', () =>
    readdirSync(M)
      .map(Number)
      .find((g) => {
        if (g < encodeGpid(2, 1) || g >= encodeGpid(3, 1)) return false;
        try {
          return readFileSync(`${M}/${g}/cmdline`, 'latin1') === 'sleep\u00001009\u0000';
        } catch {
          return false;
        }
      }),
  );
  const adopted = [...inits, outsiderGpid].sort((a, b) => a - b);
  const btime = Number(/^btime (\d+)$/m.exec(readFileSync(`${M}/stat`, 'utf8'))![1]);

  t.test('gpid 1 in the view: listed, its files, its owner', async (t) => {
    t.equal(readdirSync(M).filter((n) => /^\d+$/.test(n))[0], '1', 'listed first');
    t.equal(readFileSync(`${M}/1/stat`, 'latin1'), ROOT_STAT, 'stat');
    t.equal(readFileSync(`${M}/1/comm`, 'latin1'), 'cluster\n', 'comm');
    t.equal(readFileSync(`${M}/1/cmdline`).length, 0, 'no cmdline');
    t.equal(readFileSync(`${M}/1/statm`, 'latin1'), '0 0 0 0 0 0 0\n', 'statm: no memory');
    t.match(readFileSync(`${M}/1/io`, 'latin1'), /^rchar: 0\nwchar: 0\n/, 'io: zeros');
    t.same(readdirSync(`${M}/1/task`), ['1'], 'one thread');
    t.equal(readFileSync(`${M}/1/task/1/stat`, 'latin1'), ROOT_STAT, "the thread's stat");
    const st = statSync(`${M}/1`);
    t.ok(st.isDirectory(), 'a directory (not a link to the local PID 1)');
    t.same([st.uid, st.gid], [0, 0], 'owned by root');
    t.equal(st.mtimeMs, btime * 1000, "its time: the cluster's btime");
    t.same(
      [statSync(`${M}/1/ctl`).mode & 0o777, statSync(`${M}/1/environ`).mode & 0o777],
      [0o200, 0o400],
      'ctl 0200, environ 0400',
    );
    for (const name of ['wait', 'node', 'usage'])
      t.notOk(existsSync(`${M}/1/${name}`), `no ${name}: no node holds it`);
    for (const g of adopted) {
      t.equal(parsePidStat(readFileSync(`${M}/${g}/stat`)).ppid, 1, `${g}: stat ppid 1`);
      t.equal(statusOf(readFileSync(`${M}/${g}/status`), 'PPid'), '1', `${g}: status PPid 1`);
    }
  });

  /**
   * The first level of a `pstree -A` tree whose root is drawn as `label`: the first child
   * follows the label on its line, the others start one column after the label's width.
   * @returns each child as drawn: `name(gpid)` with -p, `name` or `N*[name` without.
   */
  const pstreeChildren = (out: string, label: string) => {
    const first = `${label}-`;
    const indent = ' '.repeat(label.length + 1);
    return out.split('\n').flatMap((line) => {
      const rest = line.startsWith(first)
        ? line.slice(first.length)
        : line.startsWith(indent)
          ? line.slice(indent.length)
          : undefined;
      const m = rest === undefined ? null : /^[-+|`]-([^-(]+)(\(\d+\))?/.exec(rest);
      return m ? [`${m[1]}${m[2] ?? ''}`] : [];
    });
  };
  const gpidsIn = (children: string[]) =>
    children.map((c) => Number(/\((\d+)\)$/.exec(c)?.[1])).sort((a, b) => a - b);

  t.test('pstree -p with no argument: every node under cluster(1), in bounded time', async (t) => {
    const start = performance.now();
    const tree = inView(mount, ['timeout', '20', 'pstree', '-p', '-A']);
    const ms = performance.now() - start;
    t.equal(tree.stderr, '', 'nothing on stderr');
    t.equal(tree.status, 0, 'exit 0');
    t.ok(ms < 10000, `finished in ${ms.toFixed(0)} ms`);
    t.match(tree.stdout, /^cluster\(1\)-/, 'the tree starts at cluster(1)');
    const children = pstreeChildren(tree.stdout, 'cluster(1)');
    t.same(
      gpidsIn(children),
      adopted,
      `its children: every node's init and the process entered from outside (${children.join(' ')})`,
    );
  });

  t.test('ps -e --forest agrees', async (t) => {
    const ps = inView(mount, ['ps', '-e', '--forest', '-o', 'pid=,ppid=,user=,stat=,comm=']);
    t.equal(ps.stderr, '', 'nothing on stderr');
    t.equal(ps.status, 0, 'exit 0');
    const rows = ps.stdout
      .trimEnd()
      .split('\n')
      .map((l) => /^ *(\d+) +(\d+) +(\S+) +(\S+) (.*)$/.exec(l)!.slice(1));
    t.same(
      [...rows[0].slice(0, 4), rows[0][4].trim()],
      ['1', '0', 'root', 'Ss', 'cluster'],
      'the first row: the cluster, root, Ss',
    );
    t.same(
      rows
        .filter((r) => r[1] === '1')
        .map((r) => Number(r[0]))
        .sort((a, b) => a - b),
      adopted,
      "the processes whose parent is 1: every node's init and the one entered from outside",
    );
    for (const init of inits) {
      const kids = rows.filter((r) => r[1] === String(init));
      t.ok(kids.length >= 1, `${init} has its node's agent under it`);
      t.ok(
        kids.every((r) => r[4].includes('\\_ ')),
        `and ps draws them under it: ${kids.map((r) => r[4].trim()).join(', ')}`,
      );
    }
  });

  const psutilScript = [
    'import json, sys, psutil',
    'if sys.argv[1] != "/proc": psutil.PROCFS_PATH = sys.argv[1]',
    'r = psutil.Process(1)',
    'out = dict(name=r.name(), username=r.username(), ppid=r.ppid(), parent=r.parent(),',
    '           status=r.status(), create_time=r.create_time(), boot_time=psutil.boot_time(),',
    '           threads=r.num_threads(), cmdline=r.cmdline(), rss=r.memory_info().rss,',
    '           cpu=sum(r.cpu_times()[:4]), io=r.io_counters().read_bytes,',
    '           children=sorted(c.pid for c in r.children()),',
    '           parents={p: psutil.Process(p).parent().pid for p in map(int, sys.argv[2:])})',
    'print(json.dumps(out))',
  ].join('\n');
  const checkPsutil = (t: Test, r: SpawnSyncReturns<string>) => {
    t.equal(r.stderr, '', 'nothing on stderr');
    t.equal(r.status, 0, 'exit 0');
    const got = JSON.parse(r.stdout);
    t.same(
      [got.name, got.username, got.ppid, got.parent, got.status, got.threads, got.cmdline],
      ['cluster', 'root', 0, null, 'sleeping', 1, []],
      'Process(1): name, username, ppid, parent, status, num_threads, cmdline',
    );
    t.same([got.rss, got.cpu, got.io], [0, 0, 0], 'no memory, CPU time or I/O');
    t.equal(got.create_time, got.boot_time, "created at the cluster's boot time");
    t.equal(got.boot_time, btime, "which is the view's btime");
    t.same(got.children, adopted, 'Process(1).children(): every node init, the outsider');
    t.same(
      got.parents,
      Object.fromEntries(adopted.map((g) => [g, 1])),
      "and each one's parent() is 1",
    );
  };
  const argv = (procfs: string) => [PY, '-c', psutilScript, procfs, ...adopted.map(String)];

  t.test('psutil with PROCFS_PATH', async (t) => {
    checkPsutil(t, spawnSync(argv(M)[0], argv(M).slice(1), { encoding: 'utf8' }));
  });

  t.test('psutil under gproc exec', async (t) => {
    checkPsutil(t, inView(mount, argv('/proc')));
  });

  t.test('an ordinary user: pstree -u, pstree -p, ps -ef, ps --forest', async (t) => {
    const as = (cmd: string[]) => inView(mount, [...NOBODY, 'timeout', '20', ...cmd]);
    const treeU = as(['pstree', '-u', '-A']);
    t.equal(treeU.stderr, '', 'pstree -u: nothing on stderr');
    t.equal(treeU.status, 0, 'pstree -u: exit 0');
    t.match(treeU.stdout, /^cluster-[-+]-/, 'pstree -u starts at the cluster');
    t.same(
      [
        ...new Set(pstreeChildren(treeU.stdout, 'cluster').map((c) => c.replace(/^\d+\*\[/, ''))),
      ].sort(),
      ['sh', 'sleep'],
      "its children: the nodes' inits (sh) and the outsider (sleep)",
    );
    const treeP = as(['pstree', '-p', '-A']);
    t.equal(treeP.status, 0, 'pstree -p: exit 0');
    t.same(
      gpidsIn(pstreeChildren(treeP.stdout, 'cluster(1)')),
      adopted,
      'pstree -p: the same children as for root',
    );
    const ef = as(['ps', '-ef']);
    t.equal(ef.stderr, '', 'ps -ef: nothing on stderr');
    t.equal(ef.status, 0, 'ps -ef: exit 0');
    t.match(ef.stdout, /^root +1 +0 +0 +\S+ \? +00:00:00 \[cluster\]$/m, 'ps -ef: the root row');
    for (const g of inits)
      t.match(ef.stdout, new RegExp(`^root +${g} +1 `, 'm'), `ps -ef: ${g} has PPID 1`);
    const forest = as(['ps', '-e', '--forest', '-o', 'pid=,ppid=']);
    t.equal(forest.status, 0, 'ps -e --forest: exit 0');
    t.same(
      forest.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/ +/))
        .filter((r) => r[1] === '1')
        .map((r) => Number(r[0]))
        .sort((a, b) => a - b),
      adopted,
      'ps -e --forest: the same children of 1',
    );
  });

  t.test('gpid 1 takes no signal: ctl, kill(2) under gproc exec, pkill', async (t) => {
    const ctl = `${M}/1/ctl`;
    const cases = {
      term: { hex: hex('TERM\n') },
      kill: { hex: hex('kill') },
      zero: { hex: hex('signal 0') },
      group: { hex: hex('signal-group CONT') },
      malformed: { hex: hex('no such signal') },
    };
    t.same(
      writeCases(ctl, cases),
      { term: 'EPERM', kill: 'EPERM', zero: 'EPERM', group: 'EPERM', malformed: 'EINVAL' },
      'root: every signal EPERM, a malformed command EINVAL (checked first, as kill(2) does)',
    );
    const denied = writeCases(ctl, { term: cases.term }, 65534);
    t.same(denied, { term: 'EACCES' }, 'another user: ctl is not writable (mode 0200, root)');
    // SIGCONT: harmless to whatever PID 1 the machine has, should the view be bypassed.
    const kill = inView(mount, ['kill', '-CONT', '1']);
    t.equal(kill.status, 1, 'kill -CONT 1 under gproc exec fails');
    t.match(kill.stderr, /Operation not permitted/, 'with EPERM');
    const probe = inView(mount, ['kill', '-0', '1']);
    t.equal(probe.status, 0, 'kill -0 1 as root: allowed, as kill(2) for root');
    const probeNobody = inView(mount, [...NOBODY, 'kill', '-0', '1']);
    t.match(probeNobody.stderr, /Operation not permitted/, 'kill -0 1 as another user: EPERM');
    const pkill = inView(mount, ['pkill', '-CONT', '-x', 'cluster']);
    t.equal(pkill.status, 1, 'pkill -x cluster fails');
    t.match(pkill.stderr, /killing pid 1 failed: Operation not permitted/, 'pkill says why');
    for (const cmd of [
      ['kill', '-CONT', '1'],
      ['wait', '1'],
    ]) {
      const cli = spawnSync(
        GPROC[0],
        [...GPROC.slice(1), cmd[0], '--config', cluster.configPath, ...cmd.slice(1)],
        {
          encoding: 'utf8',
        },
      );
      t.equal(cli.status, 1, `gproc ${cmd.join(' ')} fails`);
      t.match(cli.stderr, /1 is the cluster's root, not a process of any node/, 'and says why');
    }
    t.ok(
      inits.every((g) => existsSync(`${M}/${g}`)),
      "every node's init is still there",
    );
  });
});
