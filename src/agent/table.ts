/**
 * The node's process table, read from /proc by one reader for every snapshot and every
 * Watch stream of the agent (rpc/watch.ts), and what changed between two readings.
 *
 * The cost of a reading is bounded by what changed: `stat` of every process is read, and
 * the rest of its files only when that stat changed, or when they were last read more than
 * `defaults.fullReadMaxAgeMs` ago (a status line such as a context-switch count or a signal
 * mask can change while stat does not). A process whose files are all unchanged keeps the
 * same record object from one reading to the next, so a stream finds what changed since
 * it last sent by comparing references (`diffTable`). Each process's `stat` is kept open
 * (up to `defaults.tableStatFdsMax` descriptors) and read again in place, compared with
 * the record's bytes without a copy: a quiet process costs one read(2) per reading.
 *
 * While any stream watches, the table is read every `defaults.watchIntervalMs`; otherwise
 * only when asked. Readings asked for while one is under way share it.
 */
import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { SNAPSHOT_FILES } from '../procfs/files';
import { listPids, openFilesLimit, openForRereading, readWhole, rereadOpen } from '../procfs/read';
import type { NodeInfo } from '../proto/gen/gproc/v1/NodeInfo';
import type { Process__Output } from '../proto/gen/gproc/v1/Process';
import type { TableUpdate } from '../proto/gen/gproc/v1/TableUpdate';
import type { ReaderPool } from './reader-pool';
import { readNodeInfo, type NodeIdentity } from './snapshot';

/** One reading of the table. */
export interface TableState {
  /** Wall clock ms when the reading began. */
  takenAtMs: number;
  /** Monotonic ms (performance.now()) when the reading began. */
  begunAt: number;
  node: NodeInfo;
  /** pid -> record; the same object as in the last reading when nothing of it changed. */
  processes: ReadonlyMap<number, Process__Output>;
}

interface Kept {
  proc: Process__Output;
  /** Monotonic ms after which every file of it is read again, changed stat or not. */
  rereadAtMs: number;
  /** Its stat, kept open (openForRereading), if it has been read since it was first read. */
  statFd?: number;
}

export interface TableEvents {
  update: [state: TableState];
}

/** The node's process table: see the module comment. */
export class ProcessTable extends EventEmitter<TableEvents> {
  private kept = new Map<number, Kept>();
  private reading: Promise<TableState> | undefined;
  private next: Promise<TableState> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchers = 0;
  /** Descriptors kept open (`Kept.statFd`), and how many may be. */
  private statFds = 0;
  private readonly statFdsMax = Math.min(
    defaults.tableStatFdsMax,
    Math.floor((openFilesLimit() ?? 1024) / 4),
  );
  /** The last reading, if any. */
  last: TableState | undefined;

  constructor(
    private readonly procRoot: string,
    private readonly node: NodeIdentity,
    private readonly pool: ReaderPool,
    private readonly log: Logger,
    /** Wraps each reading (the agent's metrics time it). */
    private readonly timed: (read: () => Promise<TableState>) => Promise<TableState> = (read) =>
      read(),
  ) {
    super();
    this.setMaxListeners(0); // one listener per Watch stream
  }

  /** Reads the table now (or joins the reading under way); every listener gets the result. */
  read(): Promise<TableState> {
    this.reading ??= this.timed(() => this.readNow()).finally(() => (this.reading = undefined));
    return this.reading;
  }

  /**
   * A reading begun after this call: what a request must see (a process started just
   * before it). Joins the next reading when one is under way.
   */
  readAfterNow(): Promise<TableState> {
    if (!this.reading) return this.read();
    this.next ??= this.reading
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.read();
      });
    return this.next;
  }

  /** A stream starts watching: the table is read every interval while anyone watches. */
  acquire(): void {
    if (this.watchers++ > 0) return;
    this.timer = setInterval(() => {
      this.read().catch((err: Error) =>
        this.log.error({ err: err.message }, 'table reading failed'),
      );
    }, defaults.watchIntervalMs);
  }

  release(): void {
    if (--this.watchers > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    clearInterval(this.timer);
    this.removeAllListeners();
    for (const k of this.kept.values()) this.closeStat(k);
  }

  /**
   * The current bytes of a kept process's stat: through its kept descriptor (opened now
   * if there is room), else read whole.
   * @returns a view valid until the next read of procfs/read.ts, or null when the process
   *   is gone, its pid names another process, or its stat cannot be read (the full reading
   *   that follows says why).
   */
  private readStat(pid: number, k: Kept): Buffer | null {
    try {
      if (k.statFd === undefined) {
        const path = `${this.procRoot}/${pid}/stat`;
        if (this.statFds >= this.statFdsMax) return readWhole(path);
        k.statFd = openForRereading(path) ?? undefined;
        if (k.statFd === undefined) return null;
        this.statFds++;
      }
      const bytes = rereadOpen(k.statFd);
      // The process it was opened on is gone: whatever has the pid now is read in full.
      if (bytes === null) this.closeStat(k);
      return bytes;
    } catch {
      this.closeStat(k);
      return null;
    }
  }

  /**
   * How long after this reading a process is read in full again, stat changed or not:
   * `defaults.fullReadMaxAgeMs` (less one reading interval, so that no record is older);
   * one read for the first time, at a random point of that: processes that start together
   * (all of them at the agent's first reading) are read again spread over the interval,
   * and stay spread. So a quiet node of N processes reads about N / 9 a second in full.
   */
  private rereadAfterMs(first: boolean): number {
    const every = defaults.fullReadMaxAgeMs - defaults.watchIntervalMs;
    return first ? every * Math.random() : every;
  }

  private closeStat(k: Kept): void {
    if (k.statFd === undefined) return;
    try {
      closeSync(k.statFd);
    } catch {
      // closed already: nothing held
    }
    k.statFd = undefined;
    this.statFds--;
  }

  private async readNow(): Promise<TableState> {
    const takenAtMs = Date.now();
    const now = performance.now();
    const kept = new Map<number, Kept>();
    const again: number[] = [];
    for (const pid of listPids(this.procRoot)) {
      const before = this.kept.get(pid);
      if (!before || now >= before.rereadAtMs) {
        again.push(pid);
        continue;
      }
      const stat = this.readStat(pid, before);
      if (stat !== null && stat.equals(before.proc.stat)) kept.set(pid, before);
      else again.push(pid);
    }
    const { processes, errors } = await this.pool.read(again);
    for (const e of errors)
      this.log.warn({ pid: e.pid, err: e.message }, 'process left out of the table');
    for (const proc of processes) {
      const before = this.kept.get(proc.pid);
      kept.set(proc.pid, {
        proc: before && sameRecord(before.proc, proc) ? before.proc : proc,
        rereadAtMs: now + this.rereadAfterMs(before === undefined),
        // Its descriptor names the process it was opened on: one that ended (its pid now
        // another's) fails to read next time and is opened again then.
        statFd: before?.statFd,
      });
    }
    // The descriptors of processes that are gone.
    for (const [pid, k] of this.kept) if (kept.get(pid)?.statFd !== k.statFd) this.closeStat(k);
    // By pid: the processes read again were added after the ones kept.
    const byPid = [...kept].sort((a, b) => a[0] - b[0]);
    this.kept = new Map(byPid);
    const state: TableState = {
      takenAtMs,
      begunAt: now,
      node: readNodeInfo(this.procRoot, this.node),
      processes: new Map(byPid.map(([pid, k]) => [pid, k.proc])),
    };
    this.last = state;
    this.emit('update', state);
    return state;
  }
}

/**
 * Whether two readings of one process carry the same identity and files. The `SigQ:` line
 * of status is left out of the comparison: it counts the signals queued for the process's
 * real user on the whole machine, so it moves for every process of a user at once (every
 * root process whenever any root process has a signal pending), which would send the
 * records of every quiet process again. The record keeps the earlier reading's line.
 */
export function sameRecord(a: Process__Output, b: Process__Output): boolean {
  if (a.starttime !== b.starttime || a.uid !== b.uid || a.gid !== b.gid) return false;
  for (const name of SNAPSHOT_FILES) {
    if (a[name].equals(b[name])) continue;
    if (name !== 'status' || !sameStatus(a.status, b.status)) return false;
  }
  if (a.threads.length !== b.threads.length) return false;
  return a.threads.every(
    (t, i) =>
      t.tid === b.threads[i].tid &&
      t.stat.equals(b.threads[i].stat) &&
      sameStatus(t.status, b.threads[i].status),
  );
}

const SIGQ = /^SigQ:.*$/m;

/** Two status files equal but for their SigQ line. */
function sameStatus(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  const x = a.toString('latin1');
  const y = b.toString('latin1');
  return x.replace(SIGQ, '') === y.replace(SIGQ, '');
}

/**
 * What a stream sends to bring a replica from what it was sent (`sent`, pid -> record, which
 * this updates) to `state`: everything when `full`, else the records that are new objects
 * and the pids that are gone. The started and ended lists are the caller's to add.
 */
export function diffTable(
  sent: Map<number, Process__Output>,
  state: TableState,
  full: boolean,
): TableUpdate {
  const changed: Process__Output[] = [];
  const gone: number[] = [];
  if (full) sent.clear();
  for (const pid of sent.keys()) if (!state.processes.has(pid)) gone.push(pid);
  for (const pid of gone) sent.delete(pid);
  for (const [pid, proc] of state.processes) {
    if (sent.get(pid) === proc) continue;
    changed.push(proc);
    sent.set(pid, proc);
  }
  return { full, node: state.node, takenAtMs: state.takenAtMs, changed, gone };
}
