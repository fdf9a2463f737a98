/**
 * The on-disk records of the processes an agent started (native-notes/durable-processes.md).
 * One file per process in `<state dir>/processes/`, named `BOOTID.PID.STARTTIME` (a reused
 * PID has another start time, so another file), written by the process's supervisor
 * (src/native/gproc-shim.c) when it starts the process ("state running") and replaced when
 * the process ends ("state exited N" / "state killed SIGNUM"); the agent appends "read MS"
 * when the owner first reads the status. Every write is atomic: a temporary file (name
 * starting with ".") renamed over the record. Not fsynced: records of another boot are
 * dropped, and only a crash of the machine (a new boot) loses the page cache.
 *
 *   gproc-process 1
 *   boot 5d2c...            /proc/sys/kernel/random/boot_id
 *   pid 4242 123456         the process: pid and start time (clock ticks after boot)
 *   uid 65534               its owner: only it (or root) may consume the status
 *   shim 4241 123455        its supervisor: pid and start time
 *   origin 1 300 300 300    who asked (node, pid, pgrp, session); absent when unknown
 *   started 1712345678901   wall-clock ms
 *   state exited 3          running | exited N | killed SIGNUM
 *   ended 1712345679000     wall-clock ms (once ended)
 *   read 1712345680000      wall-clock ms of the first read by its owner or root (optional)
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/** The requester of a process: it is shown as that process's parent, group and session. */
export interface Origin {
  node: number;
  pid: number;
  pgrp: number;
  session: number;
}

/** How a process ended (spec section 5): `exited N`, `killed SIGNAME` or `gone`. */
export type ExitStatus = { code: number } | { signal: string } | { gone: true };

export interface ProcessRecord {
  /** The file's name: BOOTID.PID.STARTTIME. */
  key: string;
  boot: string;
  pid: number;
  starttime: number;
  uid: number;
  shim?: { pid: number; starttime: number };
  origin?: Origin;
  startedAt: number;
  /** undefined while the process runs. */
  status?: ExitStatus;
  endedAt?: number;
  readAt?: number;
}

/** This machine's boot id: records of another boot are stale. */
export function readBootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

export function recordKey(boot: string, pid: number, starttime: number): string {
  return `${boot}.${pid}.${starttime}`;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** The status a supervisor wrote ("exited N", "killed SIGNUM"). */
function parseState(words: string[]): ExitStatus | undefined {
  const n = Number(words[1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`bad state ${words.join(' ')}`);
  if (words[0] === 'exited') return { code: n };
  if (words[0] === 'killed') return { signal: SIGNAL_NAMES.get(n) ?? `SIG${n}` };
  throw new Error(`bad state ${words.join(' ')}`);
}

/**
 * Parses a record's text.
 * @throws Error when it is not a whole record (a record is replaced atomically, so a
 *   partial one means someone else wrote it).
 */
export function parseRecord(key: string, text: string): ProcessRecord {
  const fields = new Map<string, string[]>();
  const lines = text.split('\n');
  if (lines[0] !== 'gproc-process 1' || lines[lines.length - 1] !== '')
    throw new Error('not a gproc process record');
  for (const line of lines.slice(1, -1)) {
    const [name, ...words] = line.split(' ');
    fields.set(name, words);
  }
  const ints = (name: string, count: number, optional = false): number[] | undefined => {
    const words = fields.get(name);
    if (!words) {
      if (optional) return undefined;
      throw new Error(`no ${name}`);
    }
    const values = words.map(Number);
    if (values.length !== count || values.some((v) => !Number.isSafeInteger(v) || v < 0))
      throw new Error(`bad ${name}`);
    return values;
  };
  const boot = fields.get('boot')?.[0];
  if (!boot) throw new Error('no boot');
  const [pid, starttime] = ints('pid', 2)!;
  const shim = ints('shim', 2, true);
  const origin = ints('origin', 4, true);
  const state = fields.get('state');
  if (!state) throw new Error('no state');
  const status = state[0] === 'running' ? undefined : parseState(state);
  const record: ProcessRecord = {
    key,
    boot,
    pid,
    starttime,
    uid: ints('uid', 1)![0],
    shim: shim && { pid: shim[0], starttime: shim[1] },
    origin: origin && { node: origin[0], pid: origin[1], pgrp: origin[2], session: origin[3] },
    startedAt: ints('started', 1)![0],
    status,
    endedAt: status ? ints('ended', 1)![0] : undefined,
    readAt: ints('read', 1, true)?.[0],
  };
  if (key !== recordKey(boot, pid, starttime))
    throw new Error('its name is not its boot id, pid and start time');
  return record;
}

/** Reads record `key` of `dir`. @returns undefined when there is none. @throws Error when it is not a record. */
export function readRecord(dir: string, key: string): ProcessRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, key), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseRecord(key, text);
}

/** Replaces file `name` of `dir` with `text`, atomically (a renamed temporary file). */
export function writeAtomically(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.tmp.${process.pid}.${name}`);
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, join(dir, name));
}

/** Marks record `key` as read at `readAt` (the first read by its owner or root). */
export function markRecordRead(dir: string, key: string, readAt: number): void {
  const text = readFileSync(join(dir, key), 'utf8');
  if (/^read /m.test(text)) return;
  writeAtomically(dir, key, `${text}read ${readAt}\n`);
}

export function removeRecord(dir: string, key: string): void {
  try {
    unlinkSync(join(dir, key));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
