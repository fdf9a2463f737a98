/**
 * Thin, synchronous readers of a /proc tree (the node's own, or a fixture tree in tests).
 * Files are read whole with one reusable buffer: /proc reports size 0, so the read loops
 * until EOF. A process that ends between listing and reading is left out (null), never an
 * error. Only names written in this module are ever opened: no caller-supplied text
 * becomes a path.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { parsePidStat } from './stat';

let scratch = Buffer.allocUnsafe(256 * 1024);

/** Errors that mean "the process or file is not there (any more)" or "not readable". */
const ABSENT = new Set(['ENOENT', 'ESRCH', 'ENOTDIR']);
const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * Reads a whole file. A read that returns less than it asked for ends the file: procfs
 * hands out a seq_file or a cmdline/environ in full when the buffer is large enough, so
 * the extra read(2) that would return 0 is saved (a third of the system calls here).
 * @returns the bytes, or null when the file (or its process) does not exist.
 * @throws the fs error for anything else (EACCES included: callers decide).
 */
export function readWhole(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === scratch.length) {
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, length);
        scratch = bigger;
      }
      const want = scratch.length - length;
      const n = readSync(fd, scratch, length, want, null);
      length += n;
      if (n < want) break;
    }
    return Buffer.from(scratch.subarray(0, length));
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Reads a file that may be unreadable for this caller (environ, io): empty when denied or absent. */
export function readOrEmpty(path: string): Buffer {
  try {
    return readWhole(path) ?? Buffer.alloc(0);
  } catch (err) {
    if (DENIED.has((err as NodeJS.ErrnoException).code ?? '')) return Buffer.alloc(0);
    throw err;
  }
}

/** The numeric entries of a /proc-like directory (processes, or threads under task/), ascending. */
export function listPids(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
  const pids: number[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57 && /^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids.sort((a, b) => a - b);
}

/** The node-wide files a snapshot carries, raw. */
export interface NodeFiles {
  uptime: Buffer;
  stat: Buffer;
  meminfo: Buffer;
  loadavg: Buffer;
  cpuinfo: Buffer;
  osrelease: Buffer;
}

/** Reads the node-wide files of a /proc tree. Missing files read as empty. */
export function readNodeFiles(root: string): NodeFiles {
  const get = (name: string) => readOrEmpty(`${root}/${name}`);
  return {
    uptime: get('uptime'),
    stat: get('stat'),
    meminfo: get('meminfo'),
    loadavg: get('loadavg'),
    cpuinfo: get('cpuinfo'),
    osrelease: get('sys/kernel/osrelease'),
  };
}

/** The per-thread files of a multi-threaded process. */
export interface ThreadFiles {
  tid: number;
  stat: Buffer;
  status: Buffer;
}

/** One process as a snapshot carries it: identity plus the raw files ps, top and pgrep read. */
export interface ProcessFiles {
  pid: number;
  /** Start time after boot, clock ticks (stat field 22): with pid, the process's identity. */
  starttime: number;
  /** Owner of /proc/<pid> as the kernel reports it (root for non-dumpable processes). */
  uid: number;
  gid: number;
  stat: Buffer;
  status: Buffer;
  statm: Buffer;
  cmdline: Buffer;
  environ: Buffer;
  cgroup: Buffer;
  /** Every thread (main one included) when the process has more than one; else empty. */
  threads: ThreadFiles[];
}

/**
 * Reads one process.
 * @returns null when the process ended before or while it was read.
 * @throws ProcParseError when its stat file is malformed.
 */
export function readProcess(root: string, pid: number): ProcessFiles | null {
  const dir = `${root}/${pid}`;
  let owner;
  try {
    owner = statSync(dir);
  } catch (err) {
    if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return null;
    throw err;
  }
  const stat = readWhole(`${dir}/stat`);
  const status = readWhole(`${dir}/status`);
  const statm = readWhole(`${dir}/statm`);
  const cmdline = readWhole(`${dir}/cmdline`);
  if (!stat || !status || !statm || !cmdline) return null;
  const parsed = parsePidStat(stat, `${dir}/stat`);
  const threads: ThreadFiles[] = [];
  if (parsed.numThreads > 1) {
    for (const tid of listPids(`${dir}/task`)) {
      const tstat = readWhole(`${dir}/task/${tid}/stat`);
      const tstatus = readWhole(`${dir}/task/${tid}/status`);
      if (tstat && tstatus) threads.push({ tid, stat: tstat, status: tstatus });
    }
  }
  return {
    pid,
    starttime: parsed.starttime,
    uid: owner.uid,
    gid: owner.gid,
    stat,
    status,
    statm,
    cmdline,
    environ: readOrEmpty(`${dir}/environ`),
    cgroup: readOrEmpty(`${dir}/cgroup`),
    threads,
  };
}

/** A process whose files could not be parsed, and why. */
export interface ReadError {
  pid: number;
  message: string;
}

/**
 * Reads the given processes of a /proc tree; the ones that end meanwhile are left out, and
 * the ones whose files cannot be parsed are left out and reported in `errors`.
 */
export function readProcesses(
  root: string,
  pids: readonly number[],
): { processes: ProcessFiles[]; errors: ReadError[] } {
  const processes: ProcessFiles[] = [];
  const errors: ReadError[] = [];
  for (const pid of pids) {
    try {
      const p = readProcess(root, pid);
      if (p) processes.push(p);
    } catch (err) {
      errors.push({ pid, message: (err as Error).message });
    }
  }
  return { processes, errors };
}
