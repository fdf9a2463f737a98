// The renderers of the cluster view (src/fs/render.ts) over hand-built tables of the
// fixture tree: want/have per file. No root, no FUSE.
import t from 'tap';
import { defaults } from '../../src/defaults';
import { encodeGpid as g } from '../../src/gpid';
import * as render from '../../src/fs/render';
import { FILE_NAMES, declOf } from '../../src/procfs/files';
import { down, FIXTURE_BTIME, table, TAKEN_AT_MS, up } from '../helpers/tables';

const text = (b: Buffer) => b.toString('latin1');
/** Fields of a stat line after the comm: [state, ppid, pgrp, session, tty, tpgid, ...]. */
const afterComm = (line: string) =>
  line
    .slice(line.lastIndexOf(')') + 2)
    .trimEnd()
    .split(' ');

t.test('stat: pid, ppid, pgrp, session, tpgid as gpids, starttime shifted', async (t) => {
  const tab = table(up(1, { bootOffset: 0 }), up(2, { bootOffset: 10 }));
  const cases = [
    // process, thread, want: pid, comm, [state ppid pgrp session tty tpgid], starttime
    {
      gpid: g(1, 6551),
      want: [
        g(1, 6551),
        '(x) (y\nz w)',
        ['S', g(1, 1), g(1, 6507), g(1, 1079), 0, -1],
        131026 + 1000,
      ],
    },
    {
      gpid: g(2, 800),
      tid: 801,
      want: [g(2, 801), '(worker)', ['S', g(2, 1), g(2, 800), g(2, 800), 0, -1], 131026],
    },
    { gpid: g(2, 2), want: [g(2, 2), '(kthreadd)', ['S', 1, 0, 0, 0, -1], 2] },
  ];
  for (const { gpid, tid, want } of cases) {
    const line = text(render.renderStat(tab.processes.get(gpid)!, tab, tid));
    const rest = afterComm(line);
    t.same(
      [
        Number(line.split(' ')[0]),
        line.slice(line.indexOf('('), line.lastIndexOf(')') + 1),
        rest.slice(0, 6).map((x, i) => (i ? Number(x) : x)),
        Number(rest[19]),
      ],
      want,
      `${gpid}${tid ? ` thread ${tid}` : ''}`,
    );
    t.ok(line.endsWith('\n'), 'one line');
  }
});

t.test(
  'stat: the CPU a task last ran on (field 39) numbered as the cluster numbers CPUs',
  async (t) => {
    // Each fixture node has cpu0 and cpu1: the cluster's stat lists node 1's as cpu0-1, node 2's as cpu2-3.
    const tab = table(up(1), up(2));
    const cpus = text(render.renderSystemStat(tab)).match(/^cpu\d+ /gm);
    t.same(cpus, ['cpu0 ', 'cpu1 ', 'cpu2 ', 'cpu3 '], 'the top-level stat lists 4 CPUs');
    const field39 = (gpid: number, tid?: number) =>
      afterComm(text(render.renderStat(tab.processes.get(gpid)!, tab, tid)))[36];
    const local = (gpid: number, tid?: number) =>
      afterComm(
        text(
          tab.processes.get(gpid)!.proc.threads.find((x) => x.tid === tid)?.stat ??
            tab.processes.get(gpid)!.proc.stat,
        ),
      )[36];
    t.equal(field39(g(1, 6551)), local(g(1, 6551)), 'node 1: as on the node');
    t.equal(
      Number(field39(g(2, 6551))),
      Number(local(g(2, 6551))) + 2,
      "node 2: after node 1's two",
    );
    t.equal(
      Number(field39(g(2, 800), 801)),
      Number(local(g(2, 800), 801)) + 2,
      'a thread of node 2 too',
    );
    t.equal(
      field39(1),
      afterComm(text(render.renderStat(tab.processes.get(1)!, tab)))[36],
      'the cluster root: unchanged',
    );
    // Node 1 down: node 2's CPUs are cpu0-1 of the cluster, and so are its tasks'.
    const alone = table(down(1), up(2));
    t.equal(
      afterComm(text(render.renderStat(alone.processes.get(g(2, 6551))!, alone)))[36],
      local(g(2, 6551)),
      'node 1 down: node 2 numbers from 0',
    );
  },
);

t.test('status: Tgid, Pid, PPid, TracerPid and the first NS* values as gpids', async (t) => {
  const tab = table(up(3));
  const lines = (gpid: number, tid?: number) =>
    Object.fromEntries(
      text(render.renderStatus(tab.processes.get(gpid)!, tab, tid))
        .split('\n')
        .filter((l) => /^(Name|Tgid|Pid|PPid|TracerPid|NS\w+):/.test(l))
        .map((l) => l.split(':\t')),
    );
  const cases = [
    {
      have: lines(g(3, 6551)),
      want: {
        Name: 'x) (y\\nz w',
        Tgid: `${g(3, 6551)}`,
        Pid: `${g(3, 6551)}`,
        PPid: `${g(3, 1)}`,
        TracerPid: '0',
        NStgid: `${g(3, 6551)}`,
        NSpid: `${g(3, 6551)}`,
        NSpgid: `${g(3, 6507)}`,
        NSsid: `${g(3, 1079)}`,
      },
    },
    {
      have: lines(g(3, 800), 802),
      want: { Tgid: `${g(3, 800)}`, Pid: `${g(3, 802)}`, PPid: `${g(3, 1)}` },
    },
  ];
  for (const { have, want } of cases) t.match(have, want);
});

t.test('the small per-process files', async (t) => {
  const tab = table(up(1));
  const worker = tab.processes.get(g(1, 800))!;
  const cases = [
    { have: render.renderComm(worker), want: 'worker\n' },
    { have: render.renderComm(worker, 801), want: 'worker\n' },
    { have: render.renderNodeOf(worker, tab), want: '1 n1\n' },
    {
      have: render.renderUsage({ cpuPercent: 12.3456, memoryBytes: 4096, elapsedMs: 7 }),
      want: 'cpu 12.35\nmemory 4096\nelapsed 7\n',
    },
    { have: render.renderExit({ outcome: 'code', code: 0 }), want: 'exited 0\n' },
    { have: render.renderExit({ outcome: 'code', code: 3 }), want: 'exited 3\n' },
    { have: render.renderExit({ outcome: 'signal', signal: 'SIGTERM' }), want: 'killed SIGTERM\n' },
    { have: render.renderExit({ outcome: 'gone', gone: true }), want: 'gone\n' },
    { have: render.RENDERERS.comm(worker, tab), want: 'worker\n' },
  ];
  for (const { have, want } of cases) t.equal(text(have), want, JSON.stringify(want));
  t.same(
    Object.keys(render.RENDERERS).sort(),
    FILE_NAMES.filter((n) => declOf(n).view === 'rendered').sort(),
    'a renderer for every file declared rendered, and no other',
  );
});

t.test('top-level files summed over up nodes; layouts kept with none up', async (t) => {
  const two = table(up(1), up(2, { bootOffset: 3600 }));
  const none = table(down(1));
  const seenThenDown = table({ ...down(1), info: two.nodes.get(1)!.info });
  const cases = [
    {
      what: 'loadavg, two nodes',
      have: render.renderLoadAvg(two),
      want: `0.24 0.54 0.36 2/2154 ${g(1, 5087)}\n`,
    },
    { what: 'loadavg, none up', have: render.renderLoadAvg(none), want: '0.00 0.00 0.00 0/0 0\n' },
    {
      what: 'osrelease of the preferred node',
      have: render.renderOsRelease(two, 2),
      want: '6.18.44-fc-v595\n',
    },
    { what: 'osrelease, none ever seen', have: render.renderOsRelease(none), want: '' },
    { what: 'pid_max', have: Buffer.from(render.PID_MAX), want: '2147483647\n' },
  ];
  for (const { what, have, want } of cases) t.equal(text(have), want, what);

  const stat = text(render.renderSystemStat(two));
  t.match(stat, /^cpu {2}16554 0 20402 483470 2838 0 118 40 0 0\n/, 'cpu summed');
  t.same(stat.match(/^cpu\d+/gm), ['cpu0', 'cpu1', 'cpu2', 'cpu3'], 'cpuN renumbered across nodes');
  t.match(stat, new RegExp(`^btime ${FIXTURE_BTIME - 3600}$`, 'm'), "btime: the cluster's");
  t.match(stat, /^processes 13216$/m, 'counters summed');
  const zero = text(render.renderSystemStat(seenThenDown));
  t.match(zero, /^cpu {2}0 0 0 0 0 0 0 0 0 0\ncpu0 0 0/, 'none up: the last layout, at 0');

  const mem = (b: Buffer) =>
    Object.fromEntries(
      text(b)
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.split(':')[0], l]),
    );
  t.match(
    mem(render.renderMeminfo(two)),
    { MemTotal: /^MemTotal: +49368192 kB$/ },
    'meminfo summed',
  );
  t.match(
    mem(render.renderMeminfo(none)),
    { MemTotal: new RegExp(`^MemTotal: +${defaults.noNodeMemoryKb} kB$`), MemFree: /kB$/ },
    'no node ever seen: a layout with a MemTotal',
  );
  const uptime = text(render.renderUptime(two)).split(' ').map(Number);
  t.same(
    uptime,
    [TAKEN_AT_MS / 1000 - (FIXTURE_BTIME - 3600), 1735.93 * 2],
    'uptime from btime; idle summed',
  );
  t.equal(
    (text(render.renderCpuinfo(two)).match(/^processor\t: \d+$/gm) ?? []).length,
    4,
    'cpuinfo: every CPU',
  );
});

t.test(
  "nodes/<id>/age: seconds since the node's reading, on our clock; - while down",
  async (t) => {
    const tab = table(up(1, { bootOffset: 0 }), down(2));
    const n1 = tab.nodes.get(1)!;
    const now = n1.takenAtLocalMs + 1234;
    t.equal(text(render.renderNodeAge(n1, now)), '1.23\n', 'up: 1.23 s old');
    t.equal(text(render.renderNodeAge(n1, n1.takenAtLocalMs - 50)), '0.00\n', 'never negative');
    t.equal(text(render.renderNodeAge(tab.nodes.get(2)!, now)), '-\n', 'down: nothing listed');
  },
);
