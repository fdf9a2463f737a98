/**
 * /proc/stat (proc(5), "/proc/stat"): kernel/system statistics.
 * `cpu` and `cpuN` lines hold times in clock ticks (user nice system idle iowait irq
 * softirq steal guest guest_nice); `btime` is the boot time in seconds since the epoch;
 * `intr`, `ctxt`, `processes`, `procs_running`, `procs_blocked`, `softirq` are counters.
 */
import { ProcParseError, parseIntField } from './errors';

/** One line of /proc/stat: its key and its numbers. */
export interface SystemStatLine {
  key: string;
  values: number[];
}

/** A parsed /proc/stat. */
export interface SystemStat {
  /** The aggregate `cpu` line, clock ticks per column. */
  cpu: number[];
  /** The `cpuN` lines in file order. */
  cpus: number[][];
  /** Boot time, seconds since the epoch. */
  btime: number;
  /** Every other line, in file order (intr, ctxt, processes, ...). */
  other: SystemStatLine[];
}

/**
 * Parses /proc/stat.
 * @throws ProcParseError naming the line of a non-numeric value or a missing btime.
 */
export function parseSystemStat(content: Buffer | string, file = 'stat'): SystemStat {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  const result: SystemStat = { cpu: [], cpus: [], btime: NaN, other: [] };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    const parts = line.split(/ +/);
    const key = parts[0];
    const values = parts.slice(1).map((v) => parseIntField(v, file, i + 1, key));
    if (key === 'cpu') result.cpu = values;
    else if (/^cpu\d+$/.test(key)) result.cpus.push(values);
    else if (key === 'btime') result.btime = values[0];
    else result.other.push({ key, values });
  });
  if (!Number.isFinite(result.btime)) throw new ProcParseError(file, lines.length, 'no btime line');
  return result;
}

/** Writes /proc/stat in the kernel's layout ("cpu  " with two spaces, then "cpuN "). */
export function formatSystemStat(stat: SystemStat): string {
  let out = `cpu  ${stat.cpu.join(' ')}\n`;
  stat.cpus.forEach((values, i) => (out += `cpu${i} ${values.join(' ')}\n`));
  let wroteBtime = false;
  for (const { key, values } of stat.other) {
    // The kernel prints btime between ctxt and processes.
    if (!wroteBtime && key === 'processes') {
      out += `btime ${stat.btime}\n`;
      wroteBtime = true;
    }
    out += `${key} ${values.join(' ')}\n`;
  }
  if (!wroteBtime) out += `btime ${stat.btime}\n`;
  return out;
}

/** Columns of the `cpu` lines of Linux >= 2.6.33: user nice system idle iowait irq softirq steal guest guest_nice. */
export const CPU_COLUMNS = 10;

/**
 * The lines of /proc/stat after the cpu lines, as keys and column counts, in the kernel's
 * order (btime aside): the layout of a stat rendered when no figures were ever seen.
 * intr and softirq have their total only (intr) or the total and the ten softirq kinds.
 */
export const SYSTEM_STAT_LAYOUT: readonly { key: string; columns: number }[] = [
  { key: 'intr', columns: 1 },
  { key: 'ctxt', columns: 1 },
  { key: 'processes', columns: 1 },
  { key: 'procs_running', columns: 1 },
  { key: 'procs_blocked', columns: 1 },
  { key: 'softirq', columns: 11 },
];
