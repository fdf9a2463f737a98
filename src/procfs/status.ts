/**
 * /proc/<pid>/status and task/<tid>/status (proc(5), "/proc/pid/status"):
 * `Key:\tvalue` lines. The kernel escapes newlines and backslashes in Name, so every
 * record is exactly one line. Text is handled as latin1 to keep every byte.
 */
import { ProcParseError, parseIntField } from './errors';

/** One `Key:\tvalue` line, in file order. */
export interface StatusLine {
  key: string;
  /** What separates "Key:" from the value: "\t" as the kernel writes it, or "" if absent. */
  sep: string;
  value: string;
}

/**
 * Splits a status file into its lines.
 * @throws ProcParseError (with the 1-based line) for a line without "key:".
 */
export function parseStatusLines(content: Buffer | string, file = 'status'): StatusLine[] {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  const lines: StatusLine[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    const colon = line.indexOf(':');
    if (colon <= 0)
      throw new ProcParseError(
        file,
        lineNo,
        `expected "Key:\\tvalue", got ${JSON.stringify(line)}`,
      );
    const sep = line[colon + 1] === '\t' ? '\t' : '';
    lines.push({ key: line.slice(0, colon), sep, value: line.slice(colon + 1 + sep.length) });
  }
  return lines;
}

/** Writes status lines back byte for byte in the kernel's layout (`Key:\tvalue\n`). */
export function formatStatusLines(lines: readonly StatusLine[]): string {
  let out = '';
  for (const { key, sep, value } of lines) out += `${key}:${sep}${value}\n`;
  return out;
}

/** The ids of a status file that gproc needs, typed. */
export interface ProcessStatus {
  name: string;
  /** Thread group id: the process's pid (a thread's /proc/<tid>/status names its process). */
  tgid: number;
  /** Uid line: real, effective, saved set, filesystem. */
  uid: [number, number, number, number];
  gid: [number, number, number, number];
  threads: number;
  /** Resident set, kB; 0 for kernel threads (no VmRSS line). */
  vmRssKb: number;
}

/**
 * Reads the typed fields of a status file.
 * @throws ProcParseError naming the line of a malformed Uid, Gid or Threads value.
 */
export function parseStatus(content: Buffer | string, file = 'status'): ProcessStatus {
  const lines = parseStatusLines(content, file);
  const get = (key: string): [string, number] => {
    const i = lines.findIndex((l) => l.key === key);
    if (i < 0) throw new ProcParseError(file, lines.length, `no ${key} line`);
    return [lines[i].value, i + 1];
  };
  const ids = (key: string): [number, number, number, number] => {
    const [value, line] = get(key);
    const parts = value.split('\t');
    if (parts.length !== 4)
      throw new ProcParseError(file, line, `${key} needs 4 ids, got ${JSON.stringify(value)}`);
    return parts.map((p) => parseIntField(p, file, line, key)) as [number, number, number, number];
  };
  const [threads, threadsLine] = get('Threads');
  const [tgid, tgidLine] = get('Tgid');
  const rss = lines.findIndex((l) => l.key === 'VmRSS');
  return {
    name: get('Name')[0],
    tgid: parseIntField(tgid, file, tgidLine, 'Tgid'),
    uid: ids('Uid'),
    gid: ids('Gid'),
    threads: parseIntField(threads, file, threadsLine, 'Threads'),
    vmRssKb:
      rss < 0
        ? 0
        : parseIntField(lines[rss].value.replace(/\s*kB$/, '').trim(), file, rss + 1, 'VmRSS'),
  };
}
