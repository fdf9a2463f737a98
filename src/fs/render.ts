/**
 * Renders the files of the cluster view from the merged table (spec section 3), byte for
 * byte in proc(5) format with every PID-valued field translated (spec section 1).
 * Pure functions: the table in, bytes out.
 */
import {
  threadOf,
  threadStat,
  type ClusterTable,
  type NodeEntry,
  type ProcessEntry,
} from '../cluster/table';
import { defaults } from '../defaults';
import { describeExit, type WireExit } from '../exit-status';
import { translatePid } from '../gpid';
import { renumberCpuBlock, splitCpuinfo } from '../procfs/cpuinfo';
import { formatLoadAvg, parseLoadAvg, type LoadAvg } from '../procfs/loadavg';
import { formatMeminfo, MEMINFO_LAYOUT, parseMeminfo, type MeminfoLine } from '../procfs/meminfo';
import type { RenderedFile } from '../procfs/files';
import { formatPidStat, ptraceMaskedFields, StatField } from '../procfs/stat';
import { formatStatusLines, parseStatusLines } from '../procfs/status';
import {
  CPU_COLUMNS,
  formatSystemStat,
  parseSystemStat,
  SYSTEM_STAT_LAYOUT,
  type SystemStat,
  type SystemStatLine,
} from '../procfs/system-stat';
import { formatUptime, parseUptime } from '../procfs/uptime';

/** pid_max of the view: 2^31-1, so that procps sizes its PID columns for gpids. */
export const PID_MAX = '2147483647\n';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

/**
 * stat of a process, or of one of its threads (`tid`): pid, ppid, pgrp, session and tpgid
 * as gpids, starttime shifted to the cluster btime, the CPU it last ran on (field 39) as
 * the cluster numbers that CPU in the top-level stat and cpuinfo. The addresses and exit code
 * Linux shows only to a reader who may ptrace the process read as they do to any other
 * reader (ptraceMaskedFields), for everyone: one text serves every reader.
 */
export function renderStat(p: ProcessEntry, table: ClusterTable, tid?: number): Buffer {
  const stat = tid !== undefined ? threadStat(p, tid) : p.stat;
  const node = table.nodes.get(p.node); // none for the cluster's root
  const shift = node?.startShift ?? 0;
  const replace = new Map<number, number | string>([
    ...ptraceMaskedFields(stat),
    [StatField.pid, translatePid(p.node, stat.pid)],
    [StatField.ppid, p.ppid],
    [StatField.pgrp, p.pgrp],
    [StatField.session, p.session],
    [StatField.tpgid, p.tpgid],
    [StatField.starttime, stat.starttime + shift],
  ]);
  const cpu = stat.rest[StatField.processor - 3];
  if (node?.cpuOffset && cpu !== undefined)
    replace.set(StatField.processor, Number(cpu) + node.cpuOffset);
  return latin1(formatPidStat(stat, replace));
}

/**
 * status of a process or thread: Tgid, Pid, PPid, TracerPid as gpids; in the NS* lines the
 * first value (the PID in the node's namespace) is translated, deeper ones are kept.
 */
export function renderStatus(p: ProcessEntry, table: ClusterTable, tid?: number): Buffer {
  const raw = (tid !== undefined ? threadOf(p, tid)?.files.status : undefined) ?? p.proc.status;
  const lines = parseStatusLines(raw);
  const node = p.node;
  for (const line of lines) {
    switch (line.key) {
      case 'Tgid':
        line.value = String(p.gpid);
        break;
      case 'Pid':
        line.value = String(translatePid(node, tid ?? p.proc.pid));
        break;
      case 'PPid':
        line.value = String(p.ppid);
        break;
      case 'TracerPid':
        line.value = String(translatePid(node, Number(line.value)));
        break;
      case 'NStgid':
      case 'NSpid':
      case 'NSpgid':
      case 'NSsid': {
        const values = line.value.split('\t');
        const first = Number(values[0]);
        values[0] = String(
          line.key === 'NSpgid'
            ? table.globalGroup(node, first)
            : line.key === 'NSsid'
              ? table.globalSession(node, first)
              : translatePid(node, first),
        );
        line.value = values.join('\t');
        break;
      }
    }
  }
  return latin1(formatStatusLines(lines));
}

/** comm of a process or thread: the name from stat and a newline. */
export function renderComm(p: ProcessEntry, tid?: number): Buffer {
  return latin1(`${(tid !== undefined ? threadStat(p, tid) : p.stat).comm}\n`);
}

/**
 * Makes a per-process file whose declaration (procfs/files.ts) says 'rendered', for a
 * process or for one of its threads (`tid`, node-local).
 */
export type FileRenderer = (p: ProcessEntry, table: ClusterTable, tid?: number) => Buffer;

/** The renderer of every 'rendered' per-process file (the rest are the node's bytes as they are). */
export const RENDERERS: Readonly<Record<RenderedFile, FileRenderer>> = {
  stat: renderStat,
  status: renderStatus,
  comm: (p, _table, tid) => renderComm(p, tid),
};

/**
 * fdinfo/<fd> of a process of `node`, from its node's bytes: the PIDs a pidfd's lines hold
 * (`Pid:`, and the first value of `NSpid:`, the PID in the node's namespace; deeper ones
 * are kept, as in status) as gpids; 0 and -1 (the process ended, or is in no namespace the
 * node sees) stay. Every other line is as the node gives it.
 */
export function renderFdinfo(node: number, raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const out = text.replace(
    /^(Pid|NSpid):(\t)(-?\d+)/gm,
    (_m, key: string, tab: string, v: string) => `${key}:${tab}${translatePid(node, Number(v))}`,
  );
  return latin1(out);
}

/** `<gpid>/node`: "<id> <name>\n". */
export function renderNodeOf(p: ProcessEntry, table: ClusterTable): Buffer {
  return Buffer.from(`${p.node} ${table.nodes.get(p.node)!.config.name}\n`);
}

/** `<gpid>/usage` from pidusage figures: cpu percent, memory bytes, elapsed ms. */
export function renderUsage(u: {
  cpuPercent: number;
  memoryBytes: number;
  elapsedMs: number;
}): Buffer {
  return Buffer.from(
    `cpu ${Number(u.cpuPercent.toFixed(2))}\nmemory ${u.memoryBytes}\nelapsed ${u.elapsedMs}\n`,
  );
}

/** `<gpid>/wait`: "exited N\n", "killed SIGNAME\n" or "gone\n". */
export function renderExit(status: WireExit): Buffer {
  return Buffer.from(`${describeExit(status)}\n`);
}

/*
 * The top-level files (stat uptime meminfo loadavg cpuinfo) with some or all nodes down
 * (spec section 3). Their figures are sums over the nodes that answer, as listings show
 * only those nodes' processes. With no node up, every file keeps its lines and format:
 * the layout (keys, units, columns, CPUs, cpuinfo blocks) and the sizes that are no sums
 * (Hugepagesize) come from the last figures seen from any node (the table keeps a down
 * node's info), the amounts are 0; with no node ever seen, the layout is Linux 6.x's.
 * meminfo's MemTotal, MemFree and MemAvailable are then defaults.noNodeMemoryKb (procps
 * divides by MemTotal), btime stays the cluster's, and uptime (from btime) is never 0.
 */

/** Up nodes that sent their files: the nodes whose figures are summed. */
function upInfos(table: ClusterTable): NodeEntry[] {
  return table.upNodes().filter((n) => n.info?.files);
}

/** Every node whose files were ever seen (a down node keeps its last), by id: the layout when none is up. */
function seenInfos(table: ClusterTable): NodeEntry[] {
  return [...table.nodes.values()].filter((n) => n.info?.files);
}

/** Sums /proc/stat files: cpu columns, cpuN lines in node order, other lines column by column. */
function mergeSystemStats(stats: SystemStat[], btime: number): SystemStat {
  const merged: SystemStat = { cpu: [], cpus: [], btime, other: [] };
  for (const s of stats) {
    merged.cpu = addColumns(merged.cpu, s.cpu);
    merged.cpus.push(...s.cpus);
    for (const line of s.other) {
      const into = merged.other.find((l) => l.key === line.key);
      if (into) into.values = addColumns(into.values, line.values);
      else
        merged.other.push({ key: line.key, values: line.values.slice() } satisfies SystemStatLine);
    }
  }
  return merged;
}

const zeros = (values: number[]) => values.map(() => 0);

/**
 * Top-level stat: `cpu` summed over nodes, `cpuN` renumbered across nodes, btime the
 * cluster's, and the counters (intr, ctxt, processes, procs_running, procs_blocked,
 * softirq) summed column by column. With no node up, the same lines at 0 (see above).
 */
export function renderSystemStat(table: ClusterTable): Buffer {
  const up = upInfos(table);
  if (up.length)
    return Buffer.from(
      formatSystemStat(
        mergeSystemStats(
          up.map((n) => parseSystemStat(n.info!.files!.stat)),
          table.btime,
        ),
      ),
    );
  const seen = seenInfos(table);
  const layout: SystemStat = seen.length
    ? mergeSystemStats(
        seen.map((n) => parseSystemStat(n.info!.files!.stat)),
        table.btime,
      )
    : {
        cpu: [],
        cpus: [],
        btime: table.btime,
        other: SYSTEM_STAT_LAYOUT.map(({ key, columns }) => ({
          key,
          values: new Array<number>(columns).fill(0),
        })),
      };
  const cpu = new Array<number>(Math.max(layout.cpu.length, CPU_COLUMNS)).fill(0);
  return Buffer.from(
    formatSystemStat({
      cpu,
      cpus: layout.cpus.map(zeros),
      btime: table.btime,
      other: layout.other.map((l) => ({ key: l.key, values: zeros(l.values) })),
    }),
  );
}

/**
 * Top-level uptime: seconds from the cluster btime to the moment the snapshots were taken
 * (not to now: top divides CPU-time deltas by uptime deltas, and both must come from the
 * same moments), and idle seconds summed over up nodes. With no node up: from btime to
 * when the table was built. Never below defaults.minUptimeSeconds.
 */
export function renderUptime(table: ClusterTable): Buffer {
  const nodes = upInfos(table);
  const idle = nodes.reduce((sum, n) => sum + parseUptime(n.info!.files!.uptime).idle, 0);
  const takenAtMs = Math.max(0, ...nodes.map((n) => n.takenAtMs)) || table.builtAtMs;
  return Buffer.from(
    formatUptime({
      uptime: Math.max(defaults.minUptimeSeconds, takenAtMs / 1000 - table.btime),
      idle,
    }),
  );
}

/**
 * `nodes/<id>/age`: seconds (two decimals) since the node read what the view lists of it,
 * on this machine's clock, and a newline; "-" for a node that is down (nothing listed).
 * Up to about a second on a node that keeps up (one reading a second); more on a busy node
 * listed from its replica or its last snapshot.
 */
export function renderNodeAge(node: NodeEntry, nowMs: number = Date.now()): Buffer {
  if (node.state === 'down' || !node.takenAtLocalMs) return Buffer.from('-\n');
  return Buffer.from(`${(Math.max(0, nowMs - node.takenAtLocalMs) / 1000).toFixed(2)}\n`);
}

/** Sums meminfo files line by line, keys in first-seen order (Hugepagesize is a size: the first node's). */
function mergeMeminfo(files: MeminfoLine[][]): MeminfoLine[] {
  const merged: MeminfoLine[] = [];
  for (const lines of files) {
    for (const line of lines) {
      const into = merged.find((l) => l.key === line.key);
      if (!into) merged.push({ ...line });
      else if (line.key !== 'Hugepagesize') into.value += line.value;
    }
  }
  return merged;
}

/** Keys kept at defaults.noNodeMemoryKb while no node is up: an empty machine of 1 kB, nothing used. */
const NO_NODE_MEMORY_KEYS = new Set(['MemTotal', 'MemFree', 'MemAvailable']);

/** Top-level meminfo: every line summed over up nodes (Hugepagesize is a size, not summed); with none up, see above. */
export function renderMeminfo(table: ClusterTable): Buffer {
  const up = upInfos(table);
  if (up.length)
    return Buffer.from(
      formatMeminfo(mergeMeminfo(up.map((n) => parseMeminfo(n.info!.files!.meminfo)))),
    );
  const seen = seenInfos(table);
  const layout: MeminfoLine[] = seen.length
    ? mergeMeminfo(seen.map((n) => parseMeminfo(n.info!.files!.meminfo)))
    : MEMINFO_LAYOUT.map((l) => ({ ...l, value: 0 }));
  if (!layout.some((l) => l.key === 'MemTotal'))
    layout.unshift({ key: 'MemTotal', value: 0, unit: 'kB' });
  const lines = layout.map((l) => ({
    ...l,
    value: NO_NODE_MEMORY_KEYS.has(l.key)
      ? defaults.noNodeMemoryKb
      : l.key === 'Hugepagesize'
        ? l.value
        : 0,
  }));
  return Buffer.from(formatMeminfo(lines));
}

/**
 * Top-level loadavg: the three averages and running/total summed over up nodes; the first
 * node's last pid, as a gpid. With none up: `0.00 0.00 0.00 0/0 0`.
 */
export function renderLoadAvg(table: ClusterTable): Buffer {
  const nodes = upInfos(table);
  const merged: LoadAvg = { load: [0, 0, 0], running: 0, total: 0, lastPid: 0 };
  for (const n of nodes) {
    const l = parseLoadAvg(n.info!.files!.loadavg);
    merged.load = [
      merged.load[0] + l.load[0],
      merged.load[1] + l.load[1],
      merged.load[2] + l.load[2],
    ];
    merged.running += l.running;
    merged.total += l.total;
    if (!merged.lastPid) merged.lastPid = translatePid(n.config.id, l.lastPid);
  }
  return Buffer.from(formatLoadAvg(merged));
}

/**
 * Top-level cpuinfo: every up node's CPUs, numbered 0.. across the cluster. With none up,
 * the CPUs last seen (a description, not a figure of now), as many as stat's cpuN lines.
 */
export function renderCpuinfo(table: ClusterTable): Buffer {
  const up = upInfos(table);
  const blocks = (up.length ? up : seenInfos(table)).flatMap((n) =>
    splitCpuinfo(n.info!.files!.cpuinfo),
  );
  return latin1(blocks.map((b, i) => `${renumberCpuBlock(b, i)}\n\n`).join(''));
}

/** A node-wide file of one node: the given node's, else the first up node's, else the last seen; empty with none. */
function oneNodesFile(
  table: ClusterTable,
  field: 'osrelease' | 'schedAutogroupEnabled',
  preferNode?: number,
): Buffer {
  const nodes = upInfos(table);
  const n = nodes.find((x) => x.config.id === preferNode) ?? nodes[0] ?? seenInfos(table)[0];
  return n ? Buffer.from(n.info!.files![field]) : Buffer.alloc(0);
}

/** sys/kernel/osrelease: the given node's, else the first up node's, else the last seen. */
export function renderOsRelease(table: ClusterTable, preferNode?: number): Buffer {
  return oneNodesFile(table, 'osrelease', preferNode);
}

/**
 * sys/kernel/sched_autogroup_enabled ("1\n" or "0\n"), chosen as osrelease; empty when
 * that node's kernel has none (htop reads the autogroup files only when it says 1).
 */
export function renderAutogroupEnabled(table: ClusterTable, preferNode?: number): Buffer {
  return oneNodesFile(table, 'schedAutogroupEnabled', preferNode);
}

function addColumns(a: number[], b: number[]): number[] {
  const out = a.slice();
  b.forEach((v, i) => (out[i] = (out[i] ?? 0) + v));
  return out;
}
