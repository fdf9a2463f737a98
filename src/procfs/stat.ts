/**
 * /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat (proc(5), "/proc/pid/stat").
 *
 * One line: `pid (comm) state ppid pgrp session tty_nr tpgid flags ... starttime ...`.
 * comm is up to 16 bytes chosen by the process and may hold spaces, parentheses and
 * newlines, so it ends at the LAST ')' of the file. Text is handled as latin1 so that
 * any byte of comm survives a parse and a re-render unchanged.
 */
import { ProcParseError, parseIntField } from './errors';

/** 1-based field numbers of proc(5) that gproc reads or rewrites. */
export const StatField = {
  pid: 1,
  comm: 2,
  state: 3,
  ppid: 4,
  pgrp: 5,
  session: 6,
  ttyNr: 7,
  tpgid: 8,
  utime: 14,
  stime: 15,
  /** User and system time of the children it waited for, clock ticks. */
  cutime: 16,
  cstime: 17,
  numThreads: 20,
  starttime: 22,
  vsize: 23,
  rss: 24,
  /** Addresses of the text segment (fields 26, 27) and the stack's start (28). */
  startcode: 26,
  endcode: 27,
  startstack: 28,
  /** Stack and instruction pointers, set only while the task exits or dumps core. */
  kstkesp: 29,
  kstkeip: 30,
  /** The CPU the task last ran on (Linux >= 2.2.8). */
  processor: 39,
  /** start_data end_data start_brk arg_start arg_end env_start env_end (Linux >= 3.3, 3.5). */
  startData: 45,
  envEnd: 51,
  /** The thread's exit status as waitpid(2) reports it (Linux >= 3.5). */
  exitCode: 52,
} as const;

/**
 * A parsed stat line. PIDs are as the owning node's namespace sees them. Fields 3.. are kept
 * as one string and split at each use of `rest`: a mount keeps a parsed stat per process,
 * and the 50 strings of a split line cost it about 1 KB each (native-notes/performance.md,
 * "Stop 18").
 */
export class PidStat {
  pid!: number;
  /** Process name, bytes as latin1 characters. */
  comm!: string;
  state!: string;
  ppid!: number;
  pgrp!: number;
  session!: number;
  tpgid!: number;
  /** User and system time, clock ticks. */
  utime!: number;
  stime!: number;
  numThreads!: number;
  /** Start time after boot, clock ticks. */
  starttime!: number;
  /** Virtual memory size, bytes. */
  vsize!: number;
  /** Resident set size, pages. */
  rss!: number;

  constructor(
    /** Fields 3.. of the line, space-separated, without its newline. */
    private readonly fields: string,
    values: Omit<PidStat, 'rest'>,
  ) {
    Object.assign(this, values);
  }

  /** Fields 3.. as text, in order: rest[0] is state (field 3), rest[19] starttime (field 22). */
  get rest(): string[] {
    return this.fields.split(' ');
  }
}

/**
 * Parses one stat file.
 * @param content the raw bytes (or latin1 text) of the file.
 * @param file name used in errors.
 * @throws ProcParseError when the line has no "(comm)" or fewer than 22 fields.
 */
export function parsePidStat(content: Buffer | string, file = 'stat'): PidStat {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ProcParseError(file, 1, 'no "(comm)" in stat line');
  const pid = parseIntField(text.slice(0, open), file, 1, 'pid');
  const comm = text.slice(open + 2, close);
  let tail = text.slice(close + 2);
  if (tail.endsWith('\n')) tail = tail.slice(0, -1);
  const rest = tail.split(' ');
  if (rest.length < StatField.starttime - 2) {
    throw new ProcParseError(file, 1, `only ${rest.length + 2} fields, proc(5) has at least 22`);
  }
  const num = (n: number, what: string) => parseIntField(rest[n - 3], file, 1, what);
  return new PidStat(tail, {
    pid,
    comm,
    state: rest[0],
    ppid: num(StatField.ppid, 'ppid'),
    pgrp: num(StatField.pgrp, 'pgrp'),
    session: num(StatField.session, 'session'),
    tpgid: num(StatField.tpgid, 'tpgid'),
    utime: num(StatField.utime, 'utime'),
    stime: num(StatField.stime, 'stime'),
    numThreads: num(StatField.numThreads, 'num_threads'),
    starttime: num(StatField.starttime, 'starttime'),
    vsize: rest.length >= StatField.vsize - 2 ? num(StatField.vsize, 'vsize') : 0,
    rss: rest.length >= StatField.rss - 2 ? num(StatField.rss, 'rss') : 0,
  });
}

/**
 * Writes a stat line back with some fields replaced, byte-compatible with the kernel's
 * format (single spaces, trailing newline).
 * @param replace map from 1-based field number (>= 3, or 1 for pid) to new text.
 */
export function formatPidStat(
  stat: PidStat,
  replace: ReadonlyMap<number, string | number>,
): string {
  const pid = replace.get(StatField.pid) ?? stat.pid;
  const rest = stat.rest.slice();
  for (const [n, value] of replace) if (n >= 3) rest[n - 3] = String(value);
  return `${pid} (${stat.comm}) ${rest.join(' ')}\n`;
}

/**
 * The fields Linux hides from a reader who may not ptrace the process (proc(5): "[PT]"
 * fields; fs/proc/array.c, do_task_stat): start and end of code read 1 (0 for a kernel
 * thread, which has no memory map), the stack's start, the stack and instruction
 * pointers, the data, brk, argv and environment addresses and the exit code read 0. The
 * view gives one text to every reader (the kernel caches it across readers), so it gives
 * every reader this one.
 * @returns field number -> masked text, for formatPidStat; fields the line lacks (an
 *   older kernel's shorter line) are left out.
 */
export function ptraceMaskedFields(stat: PidStat): Map<number, string> {
  const masked = new Map<number, string>();
  const rest = stat.rest;
  const has = (n: number) => rest.length >= n - 2;
  const hasMm = rest[StatField.startcode - 3] !== '0';
  if (has(StatField.endcode)) {
    masked.set(StatField.startcode, hasMm ? '1' : '0');
    masked.set(StatField.endcode, hasMm ? '1' : '0');
  }
  for (const n of [StatField.startstack, StatField.kstkesp, StatField.kstkeip])
    if (has(n)) masked.set(n, '0');
  for (let n = StatField.startData; n <= StatField.exitCode; n++) if (has(n)) masked.set(n, '0');
  return masked;
}
