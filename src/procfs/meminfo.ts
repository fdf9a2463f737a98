/** /proc/meminfo (proc(5)): `Key:   value kB` lines, a few without a unit (HugePages_*). */
import { ProcParseError } from './errors';

export interface MeminfoLine {
  key: string;
  /** The amount, in the unit below. */
  value: number;
  /** "kB" or "" for counts. */
  unit: string;
}

/** @throws ProcParseError naming the line that is not `Key: number [kB]`. */
export function parseMeminfo(content: Buffer | string, file = 'meminfo'): MeminfoLine[] {
  const text = content.toString('latin1');
  const out: MeminfoLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const m = /^([^:]+):\s+(\d+)(?: (kB))?$/.exec(line);
    if (!m) throw new ProcParseError(file, i + 1, `not "Key: value [kB]": ${JSON.stringify(line)}`);
    out.push({ key: m[1], value: Number(m[2]), unit: m[3] ?? '' });
  });
  return out;
}

/** Writes meminfo in the kernel's column layout (`%-15s %8lu kB` for the key and colon). */
export function formatMeminfo(lines: readonly MeminfoLine[]): string {
  let out = '';
  for (const { key, value, unit } of lines) {
    out += `${(key + ':').padEnd(16)}${String(value).padStart(8)}${unit ? ' ' + unit : ''}\n`;
  }
  return out;
}

/**
 * The keys of a Linux 6.x /proc/meminfo in the kernel's order, with their units: the layout
 * of a meminfo rendered when no figures were ever seen.
 */
export const MEMINFO_LAYOUT: readonly { key: string; unit: string }[] = [
  ...'MemTotal MemFree MemAvailable Buffers Cached SwapCached Active Inactive Active(anon) Inactive(anon) Active(file) Inactive(file) Unevictable Mlocked SwapTotal SwapFree Zswap Zswapped Dirty Writeback AnonPages Mapped Shmem KReclaimable Slab SReclaimable SUnreclaim KernelStack PageTables SecPageTables NFS_Unstable Bounce WritebackTmp CommitLimit Committed_AS VmallocTotal VmallocUsed VmallocChunk Percpu HardwareCorrupted AnonHugePages ShmemHugePages ShmemPmdMapped FileHugePages FilePmdMapped'
    .split(' ')
    .map((key) => ({ key, unit: 'kB' })),
  ...'HugePages_Total HugePages_Free HugePages_Rsvd HugePages_Surp'
    .split(' ')
    .map((key) => ({ key, unit: '' })),
  ...'Hugepagesize Hugetlb DirectMap4k DirectMap2M DirectMap1G'
    .split(' ')
    .map((key) => ({ key, unit: 'kB' })),
];
