// Table tests of the top-level files (stat uptime meminfo loadavg cpuinfo) with every node
// up, one down, all down after they were seen, and all down never seen: tables built with
// buildTable from hand-made node results over the fixture files (test/fixtures/proc).
// Every file must keep its lines and format, read back through the src/procfs parsers.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTable, type ClusterTable, type NodeResult } from '../src/cluster/table';
import type { NodeConfig } from '../src/config';
import { defaults } from '../src/defaults';
import {
  renderCpuinfo,
  renderLoadAvg,
  renderMeminfo,
  renderSystemStat,
  renderUptime,
} from '../src/fs/render';
import {
  MEMINFO_LAYOUT,
  parseLoadAvg,
  parseMeminfo,
  parseSystemStat,
  parseUptime,
  splitCpuinfo,
} from '../src/procfs';
import type { NodeInfo__Output } from '../src/proto/gen/gproc/v1/NodeInfo';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', 'proc', name));
const BTIME = parseSystemStat(fixture('stat')).btime;
const NOW = (BTIME + 1000) * 1000;

const config = (id: number): NodeConfig =>
  ({ id, name: `n${id}`, address: `127.0.0.1:${7100 + id}` }) as NodeConfig;

/** Node `id`'s info: the fixture files, booted `id` seconds after the fixture's btime. */
function info(id: number): NodeInfo__Output {
  return {
    id,
    name: `n${id}`,
    bootTime: BTIME + id,
    clockTicks: 100,
    pageSize: 4096,
    version: 'test',
    files: {
      uptime: fixture('uptime'),
      stat: Buffer.from(
        fixture('stat')
          .toString('latin1')
          .replace(/^btime \d+$/m, `btime ${BTIME + id}`),
        'latin1',
      ),
      meminfo: fixture('meminfo'),
      loadavg: fixture('loadavg'),
      cpuinfo: fixture('cpuinfo'),
      osrelease: fixture('sys/kernel/osrelease'),
      schedAutogroupEnabled: fixture('sys/kernel/sched_autogroup_enabled'),
    },
  };
}

const up = (id: number): NodeResult => ({
  config: config(id),
  snapshot: { node: info(id), takenAtMs: NOW, processes: [], started: [], ended: [] },
});
const down = (id: number, seen: boolean): NodeResult => ({
  config: config(id),
  error: 'unavailable',
  info: seen ? info(id) : undefined,
});

const one = {
  stat: parseSystemStat(fixture('stat')),
  meminfo: parseMeminfo(fixture('meminfo')),
  loadavg: parseLoadAvg(fixture('loadavg')),
  uptime: parseUptime(fixture('uptime')),
  cpus: splitCpuinfo(fixture('cpuinfo')).length,
};
const memValue = (text: Buffer, key: string) =>
  parseMeminfo(text).find((l) => l.key === key)?.value;

/** What every rendering must satisfy, whatever is up: lines, formats, btime, uptime > 0. */
function checkSane(t: Test, table: ClusterTable) {
  const stat = renderSystemStat(table);
  const parsed = parseSystemStat(stat);
  t.equal(parsed.btime, table.btime, 'btime is the cluster reference');
  t.ok(parsed.cpu.length >= 10, 'a cpu line with its ten columns');
  for (const key of ['intr', 'ctxt', 'processes', 'procs_running', 'procs_blocked', 'softirq']) {
    t.ok(
      parsed.other.some((l) => l.key === key),
      `stat has ${key}`,
    );
  }
  t.match(stat.toString(), /^cpu {2}\d+( \d+){9,}\n/, 'the cpu line as the kernel writes it');
  const mem = renderMeminfo(table);
  t.ok(memValue(mem, 'MemTotal')! > 0, 'MemTotal is not 0');
  for (const key of [
    'MemFree',
    'MemAvailable',
    'Buffers',
    'Cached',
    'SwapTotal',
    'SwapFree',
    'Shmem',
    'SReclaimable',
  ]) {
    t.ok(memValue(mem, key) !== undefined, `meminfo has ${key}`);
  }
  t.match(mem.toString(), /^MemTotal: {7,}\d+ kB\n/);
  t.ok(parseLoadAvg(renderLoadAvg(table)), 'loadavg parses');
  const uptime = parseUptime(renderUptime(table));
  t.ok(uptime.uptime > 0, `uptime ${uptime.uptime} is not 0`);
  return {
    stat: parsed,
    mem,
    uptime,
    loadavg: parseLoadAvg(renderLoadAvg(table)),
    cpus: splitCpuinfo(renderCpuinfo(table)).length,
  };
}

t.test('all up: sums of both nodes', async (t) => {
  const table = buildTable([up(1), up(2)], undefined, 1);
  const r = checkSane(t, table);
  t.equal(r.stat.btime, BTIME + 1, 'the earliest boot');
  t.same(
    r.stat.cpu,
    one.stat.cpu.map((v) => 2 * v),
  );
  t.equal(r.stat.cpus.length, 2 * one.stat.cpus.length, 'cpuN of both');
  t.equal(memValue(r.mem, 'MemTotal'), 2 * one.meminfo[0].value);
  t.equal(
    memValue(r.mem, 'Hugepagesize'),
    memValue(fixture('meminfo'), 'Hugepagesize'),
    'Hugepagesize is no sum',
  );
  t.equal(r.loadavg.load[0], Number((2 * one.loadavg.load[0]).toFixed(2)));
  t.equal(r.uptime.idle, 2 * one.uptime.idle);
  t.equal(r.uptime.uptime, NOW / 1000 - (BTIME + 1), 'uptime from btime to the snapshots');
  t.equal(r.cpus, 2 * one.cpus);
});

t.test('one down: the figures of the node that answers, same lines', async (t) => {
  const table = buildTable([up(1), down(2, true)], undefined, 1);
  const r = checkSane(t, table);
  t.same(r.stat.cpu, one.stat.cpu);
  t.equal(r.stat.cpus.length, one.stat.cpus.length);
  t.same(parseMeminfo(r.mem), one.meminfo, "meminfo is the up node's, every line");
  t.same(r.loadavg.load, one.loadavg.load);
  t.equal(r.cpus, one.cpus);
  t.equal(r.stat.btime, BTIME + 1);
});

t.test('all down after they were seen: last layout, no activity', async (t) => {
  const before = buildTable([up(1), up(2)], undefined, 1);
  const table = buildTable([down(1, true), down(2, true)], before, 2);
  const r = checkSane(t, table);
  t.equal(r.stat.btime, before.btime, 'btime stays');
  t.same(r.stat.cpu, new Array(one.stat.cpu.length).fill(0), 'cpu at 0');
  t.equal(r.stat.cpus.length, 2 * one.stat.cpus.length, 'the CPUs last seen, at 0');
  t.same(
    r.stat.other.map((l) => [l.key, l.values.length]),
    one.stat.other.map((l) => [l.key, l.values.length]),
    'every other line, same columns',
  );
  t.ok(
    r.stat.other.every((l) => l.values.every((v) => v === 0)),
    'counters at 0',
  );
  const mem = parseMeminfo(r.mem);
  t.same(
    mem.map((l) => [l.key, l.unit]),
    one.meminfo.map((l) => [l.key, l.unit]),
    'every meminfo key, in order, with its unit',
  );
  t.equal(memValue(r.mem, 'MemTotal'), defaults.noNodeMemoryKb);
  t.equal(memValue(r.mem, 'MemFree'), defaults.noNodeMemoryKb);
  t.equal(memValue(r.mem, 'MemAvailable'), defaults.noNodeMemoryKb);
  t.equal(
    memValue(r.mem, 'Hugepagesize'),
    memValue(fixture('meminfo'), 'Hugepagesize'),
    'Hugepagesize as last seen',
  );
  t.equal(memValue(r.mem, 'Cached'), 0);
  t.equal(renderLoadAvg(table).toString(), '0.00 0.00 0.00 0/0 0\n');
  t.equal(r.uptime.idle, 0);
  t.ok(
    Math.abs(r.uptime.uptime - (table.builtAtMs / 1000 - table.btime)) < 0.01,
    'uptime from btime to now',
  );
  t.equal(r.cpus, 2 * one.cpus, 'cpuinfo: the CPUs last seen');
});

t.test('all down, never seen: the standard layout, at 0', async (t) => {
  const table = buildTable([down(1, false), down(2, false)], undefined, 1);
  const r = checkSane(t, table);
  t.equal(r.stat.cpu.length, 10);
  t.same(r.stat.cpus, []);
  t.equal(
    renderSystemStat(table).toString(),
    `cpu  0 0 0 0 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime ${table.btime}\nprocesses 0\nprocs_running 0\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n`,
  );
  t.same(
    parseMeminfo(r.mem).map((l) => [l.key, l.unit]),
    MEMINFO_LAYOUT.map((l) => [l.key, l.unit]),
    'every key of a Linux 6.x meminfo',
  );
  t.equal(memValue(r.mem, 'MemTotal'), defaults.noNodeMemoryKb);
  t.equal(renderLoadAvg(table).toString(), '0.00 0.00 0.00 0/0 0\n');
  t.ok(r.uptime.uptime >= defaults.minUptimeSeconds, `uptime ${r.uptime.uptime}`);
  t.equal(renderCpuinfo(table).length, 0, 'no CPU known: an empty cpuinfo');
  const later = buildTable([down(1, false), down(2, false)], table, 2);
  t.equal(later.btime, table.btime, 'btime stays the reference');
});
