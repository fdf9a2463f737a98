// Table tests of the /proc parsers over the checked-in fixture tree (test/fixtures/proc),
// hostile lines written inline, and the live /proc of this machine (round trips).
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  formatLoadAvg,
  formatMeminfo,
  formatPidStat,
  formatStatusLines,
  formatSystemStat,
  formatUptime,
  parseLoadAvg,
  parseMeminfo,
  parsePidStat,
  parseStatus,
  parseStatusLines,
  parseSystemStat,
  parseUptime,
  ProcParseError,
  ptraceMaskedFields,
  renumberCpuBlock,
  splitCpuinfo,
  StatField,
} from '../src/procfs';
import { listPids, readProcess, readProcesses, readWhole } from '../src/procfs/read';

const FIXTURE = join(__dirname, 'fixtures', 'proc');
const fixture = (path: string) => readFileSync(join(FIXTURE, path));

t.test('stat: fields of every fixture process', async (t) => {
  const table = [
    { pid: 1, comm: 'init', state: 'S', ppid: 0, pgrp: 1, session: 1, numThreads: 1, starttime: 1 },
    {
      pid: 2,
      comm: 'kthreadd',
      state: 'S',
      ppid: 0,
      pgrp: 0,
      session: 0,
      numThreads: 1,
      starttime: 2,
    },
    {
      pid: 6551,
      comm: 'x) (y\nz w',
      state: 'S',
      ppid: 1,
      pgrp: 6507,
      session: 1079,
      numThreads: 1,
      starttime: 131026,
    },
    {
      pid: 700,
      comm: 'defunct',
      state: 'Z',
      ppid: 6551,
      pgrp: 6507,
      session: 1079,
      numThreads: 1,
      starttime: 131026,
    },
    {
      pid: 800,
      comm: 'worker',
      state: 'S',
      ppid: 1,
      pgrp: 800,
      session: 800,
      numThreads: 3,
      starttime: 131026,
    },
  ];
  for (const want of table) {
    const got = parsePidStat(fixture(`${want.pid}/stat`), `${want.pid}/stat`);
    t.match(got, want, `pid ${want.pid}`);
    t.equal(got.tpgid, -1, `pid ${want.pid} has no terminal`);
  }
});

t.test('stat: hostile comm values end at the last ")"', async (t) => {
  const tail = 'S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0';
  const table: [string, string][] = [
    ['()', ''],
    ['())', ')'],
    ['(a) b)', 'a) b'],
    ['() ) S 1 2 3 (x)', ') ) S 1 2 3 (x'],
    ['(new\nline)', 'new\nline'],
    ['(\u00ff\u00fe bytes)', '\u00ff\u00fe bytes'],
  ];
  for (const [paren, comm] of table) {
    const line = `42 ${paren} ${tail}\n`;
    const got = parsePidStat(line);
    t.equal(got.comm, comm, JSON.stringify(paren));
    t.equal(got.starttime, 99);
    t.equal(formatPidStat(got, new Map()), line, 'renders back byte for byte');
  }
});

t.test('stat: malformed lines give a typed error naming file and line', async (t) => {
  const table = [
    '',
    'garbage without parentheses\n',
    '42 (x) S 1 2\n',
    '42 (x) S one 2 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99\n',
    'x (y) S\n',
  ];
  for (const bad of table) {
    t.throws(() => parsePidStat(bad, '/proc/42/stat'), ProcParseError, JSON.stringify(bad));
  }
  const err = t.throws(() => parsePidStat(fixture('900/stat'), '900/stat')) as ProcParseError;
  t.equal(err.file, '900/stat');
  t.equal(err.line, 1);
  t.match(err.message, /^900\/stat:1: /);
});

t.test('stat: field replacement keeps the kernel layout', async (t) => {
  const s = parsePidStat(fixture('6551/stat'));
  const out = formatPidStat(
    s,
    new Map<number, number>([
      [StatField.pid, 99],
      [StatField.ppid, 7],
      [StatField.starttime, 5],
    ]),
  );
  const again = parsePidStat(out);
  t.equal(again.pid, 99);
  t.equal(again.ppid, 7);
  t.equal(again.starttime, 5);
  t.equal(again.comm, 'x) (y\nz w');
  t.equal(again.rest.length, s.rest.length);
});

t.test('status: typed fields and byte-exact round trip', async (t) => {
  const s = parseStatus(fixture('6551/status'));
  t.equal(s.name, 'x) (y\\nz w', 'the kernel escapes the newline of Name');
  t.same(s.uid, [1000, 1000, 1000, 1000]);
  t.equal(s.threads, 1);
  t.equal(s.tgid, 6551);
  t.ok(s.vmRssKb > 0);
  t.equal(parseStatus(fixture('2/status')).vmRssKb, 0, 'kernel thread has no VmRSS');
  t.equal(parseStatus(fixture('800/status')).threads, 3);
  for (const pid of [1, 2, 6551, 700, 800]) {
    const raw = fixture(`${pid}/status`).toString('latin1');
    t.equal(formatStatusLines(parseStatusLines(raw)), raw, `fixture ${pid}`);
  }
  t.throws(() => parseStatusLines('Name:\tx\nno colon here\n', 's'), /s:2: /);
  t.throws(
    () => parseStatus('Name:\tx\nTgid:\t5\nUid:\t1\t2\nThreads:\t1\n', 's'),
    /s:3: Uid needs 4 ids/,
  );
  t.throws(
    () =>
      parseStatus('Name:\tx\nTgid:\tfive\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nThreads:\t1\n', 's'),
    /s:2: Tgid is not an integer/,
  );
  t.throws(() => parseStatus('Name:\tx\n', 's'), /no Threads line/);
});

t.test('live /proc: stat and status of every process render back byte for byte', async (t) => {
  let checked = 0;
  for (const pid of listPids('/proc')) {
    const stat = readWhole(`/proc/${pid}/stat`);
    const status = readWhole(`/proc/${pid}/status`);
    if (!stat || !status) continue;
    const s = stat.toString('latin1');
    const st = status.toString('latin1');
    if (formatPidStat(parsePidStat(s), new Map()) !== s) t.fail(`stat of ${pid}`);
    if (formatStatusLines(parseStatusLines(st)) !== st) t.fail(`status of ${pid}`);
    checked++;
  }
  t.ok(checked > 5, `${checked} processes round-tripped`);
});

t.test("stat's ptrace fields masked as Linux masks them for another user", async (t) => {
  // PID 1 (root's, with a memory map) and kthreadd (no memory map) as the kernel shows them
  // to nobody, against root's reading with ptraceMaskedFields applied.
  const pids = [1, 2].filter((p) => readWhole(`/proc/${p}/stat`));
  const other = spawnSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'cat',
      ...pids.map((p) => `/proc/${p}/stat`),
    ],
    { encoding: 'latin1' },
  );
  t.equal(other.status, 0, other.stderr);
  const theirs = other.stdout.split('\n').filter((l) => l !== '');
  t.equal(theirs.length, pids.length, 'nobody read every stat');
  for (const [i, pid] of pids.entries()) {
    const mine = parsePidStat(readWhole(`/proc/${pid}/stat`)!);
    const masked = ptraceMaskedFields(mine);
    t.equal(masked.size, 3 + 2 + 8, `${pid}: 13 fields masked`);
    const seen = parsePidStat(theirs[i]);
    for (const [n, value] of masked) t.equal(value, seen.rest[n - 3], `${pid}: field ${n}`);
  }
  t.ok(pids.includes(1), 'PID 1 compared');
});

t.test('node files: /proc/stat, uptime, loadavg, meminfo, cpuinfo', async (t) => {
  const stat = fixture('stat').toString();
  const parsed = parseSystemStat(stat);
  t.equal(parsed.cpu.length, 10, 'ten cpu columns');
  t.ok(parsed.cpus.length >= 1);
  t.ok(parsed.btime > 1_600_000_000, 'btime is seconds since the epoch');
  t.equal(formatSystemStat(parsed), stat, '/proc/stat renders back byte for byte');
  const live = readFileSync('/proc/stat', 'latin1');
  t.equal(formatSystemStat(parseSystemStat(live)), live, 'live /proc/stat too');
  t.throws(() => parseSystemStat('cpu  1 2 3\nctxt x\n', 'stat'), /stat:2: ctxt is not an integer/);
  t.throws(() => parseSystemStat('cpu  1 2 3\n', 'stat'), /no btime/);

  t.same(parseUptime(fixture('uptime')), { uptime: 952.19, idle: 1735.93 });
  t.equal(formatUptime(parseUptime(fixture('uptime'))), fixture('uptime').toString());
  t.throws(() => parseUptime('12 x\n'), ProcParseError);

  const la = parseLoadAvg(fixture('loadavg'));
  t.same(la, { load: [0.12, 0.27, 0.18], running: 1, total: 1077, lastPid: 5087 });
  t.equal(formatLoadAvg(la), fixture('loadavg').toString());
  t.throws(() => parseLoadAvg('0.1 0.2\n'), ProcParseError);

  const mem = fixture('meminfo').toString();
  const lines = parseMeminfo(mem);
  t.equal(lines[0].key, 'MemTotal');
  t.equal(lines[0].unit, 'kB');
  t.ok(
    lines.some((l) => l.key === 'HugePages_Total' && l.unit === ''),
    'counts without a unit',
  );
  t.equal(formatMeminfo(lines), mem, 'meminfo renders back byte for byte');
  t.throws(() => parseMeminfo('MemTotal: lots\n', 'meminfo'), /meminfo:1:/);

  const blocks = splitCpuinfo(fixture('cpuinfo'));
  t.ok(blocks.length >= 1);
  t.match(renumberCpuBlock(blocks[0], 7), /^processor\t: 7$/m);
});

t.test('reading a fixture tree: hostile, zombie, kernel thread, threads, malformed', async (t) => {
  t.same(listPids(FIXTURE), [1, 2, 700, 800, 900, 6551]);
  const hostile = readProcess(FIXTURE, 6551)!;
  t.equal(hostile.starttime, 131026);
  t.equal(hostile.environ.toString(), 'A=1\0B=two words\0');
  t.same(hostile.threads, [], 'single-threaded: no task files carried');
  const zombie = readProcess(FIXTURE, 700)!;
  t.equal(zombie.cmdline.length, 0, 'zombie has an empty cmdline');
  t.equal(readProcess(FIXTURE, 2)!.cmdline.length, 0, 'kernel thread has an empty cmdline');
  const threaded = readProcess(FIXTURE, 800)!;
  t.same(
    threaded.threads.map((x) => x.tid),
    [800, 801, 802],
  );
  t.match(threaded.threads[1].stat.toString(), /^801 \(worker\)/);
  t.equal(
    readProcess(FIXTURE, 12345),
    null,
    'a process that is not there is left out, not an error',
  );

  const { processes, errors } = readProcesses(FIXTURE, listPids(FIXTURE));
  t.same(
    processes.map((p) => p.pid),
    [1, 2, 700, 800, 6551],
  );
  t.equal(errors.length, 1);
  t.equal(errors[0].pid, 900);
  t.match(errors[0].message, /900\/stat:1: no "\(comm\)"/);
});

t.test('files longer than the read buffer are read whole (cmdline of 200 KiB)', async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, '77'));
  const arg = 'a'.repeat(50 * 1024);
  const cmdline = Buffer.from(`prog\0${arg}\0${arg}\0${arg}\0${arg}\0`);
  const environ = Buffer.from(
    Array.from({ length: 9000 }, (_, i) => `VAR${i}=${'v'.repeat(20)}\0`).join(''),
  );
  writeFileSync(
    join(dir, '77', 'stat'),
    `77 (prog) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0\n`,
  );
  writeFileSync(join(dir, '77', 'status'), fixture('1/status'));
  writeFileSync(join(dir, '77', 'statm'), '1 1 1 1 0 1 0\n');
  writeFileSync(join(dir, '77', 'cmdline'), cmdline);
  writeFileSync(join(dir, '77', 'environ'), environ);
  const p = readProcess(dir, 77)!;
  t.ok(cmdline.length > 200 * 1024);
  t.ok(p.cmdline.equals(cmdline), `cmdline of ${cmdline.length} bytes whole`);
  t.ok(p.environ.equals(environ), `environ of ${environ.length} bytes whole`);
  t.equal(p.cgroup.length, 0, 'a missing cgroup reads as empty');
  t.same(readdirSync(dir), ['77']);
});
