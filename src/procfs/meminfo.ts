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
