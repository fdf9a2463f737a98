/**
 * The agent's one poller of /proc. Every `defaults.processPollMs`, while anyone needs it,
 * it (a) lists /proc and emits the processes that started and ended since the last tick,
 * while an `events` stream listens (acquire/release): only new PIDs have their stat read,
 * so a tick costs one directory listing, and a process that starts and ends within one
 * tick is not seen; and (b) settles the waits of `untilGone`, each a check of one pid:
 * Wait for a process the agent did not start, and the registry following the supervisors
 * of processes an earlier life of the agent started.
 */
import { EventEmitter } from 'node:events';
import { defaults } from '../defaults';
import { listPids, readWhole } from '../procfs/read';
import { parsePidStat } from '../procfs/stat';
import { parseStatus } from '../procfs/status';

/** A process seen starting: identity, parent and name. */
export interface SeenProcess {
  pid: number;
  /** Clock ticks after boot (stat field 22). */
  starttime: number;
  ppid: number;
  /** comm, latin1. */
  comm: string;
  /** State letter of stat (field 3): Z for a zombie, which has ended but is not reaped yet. */
  state: string;
  /** Real, effective, saved and filesystem uid (status Uid:), when status was read. */
  uid?: number[];
}

export interface WatcherEvents {
  start: [SeenProcess];
  exit: [SeenProcess];
}

interface GoneWait {
  pid: number;
  starttime: number;
  /** Whether this wait keeps the event loop alive (a caller waits on it). */
  keepAlive: boolean;
  done: () => void;
}

/** Polls /proc every defaults.processPollMs while it has users or waits, emitting process starts and exits. */
export class ProcessWatcher extends EventEmitter<WatcherEvents> {
  private known = new Map<number, SeenProcess>();
  private timer: NodeJS.Timeout | undefined;
  private users = 0;
  private readonly waits = new Set<GoneWait>();

  constructor(private readonly procRoot: string) {
    super();
  }

  /** Starts emitting 'start' and 'exit' (counted: each acquire needs one release). */
  acquire(): void {
    if (this.users++ === 0) this.known = this.scan(new Map(), false);
    this.schedule();
  }

  release(): void {
    if (this.users === 0) return;
    this.users--;
    this.schedule();
  }

  /**
   * Resolves once (pid, starttime) no longer runs: it is gone, a zombie (ended, its status
   * its parent's), or its pid names a process with another start time (starttime 0: any
   * process with that pid keeps it running). Checked now, then on every tick.
   * @param signal resolves the wait at once when aborted.
   * @param keepAlive whether the pending wait keeps the event loop alive (default true).
   */
  untilGone(pid: number, starttime: number, signal?: AbortSignal, keepAlive = true): Promise<void> {
    if (signal?.aborted || !runs(this.procRoot, pid, starttime)) return Promise.resolve();
    return new Promise((resolve) => {
      const wait: GoneWait = {
        pid,
        starttime,
        keepAlive,
        done: () => {
          this.waits.delete(wait);
          signal?.removeEventListener('abort', wait.done);
          this.schedule();
          resolve();
        },
      };
      this.waits.add(wait);
      signal?.addEventListener('abort', wait.done, { once: true });
      this.schedule();
    });
  }

  /** Runs the timer while anyone needs it; it keeps the event loop alive only for keepAlive waits. */
  private schedule(): void {
    if (this.users === 0 && this.waits.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.timer ??= setInterval(() => this.tick(), defaults.processPollMs);
    if ([...this.waits].some((w) => w.keepAlive)) this.timer.ref();
    else this.timer.unref();
  }

  private tick(): void {
    if (this.users > 0) {
      const previous = this.known;
      this.known = this.scan(previous, true);
      for (const [pid, p] of previous) {
        const now = this.known.get(pid);
        if (!now || now.starttime !== p.starttime) this.emit('exit', p);
      }
    }
    for (const w of [...this.waits]) if (!runs(this.procRoot, w.pid, w.starttime)) w.done();
  }

  private scan(previous: Map<number, SeenProcess>, announce: boolean): Map<number, SeenProcess> {
    const next = new Map<number, SeenProcess>();
    for (const pid of listPids(this.procRoot)) {
      const old = previous.get(pid);
      if (old) {
        next.set(pid, old);
        continue;
      }
      const seen = readIdentity(this.procRoot, pid, true);
      if (!seen) continue;
      next.set(pid, seen);
      if (announce) this.emit('start', seen);
    }
    return next;
  }
}

/** Whether (pid, starttime) runs and is not a zombie (starttime 0: any process with that pid). */
export function runs(procRoot: string, pid: number, starttime: number): boolean {
  const seen = readIdentity(procRoot, pid);
  return (
    seen !== undefined && seen.state !== 'Z' && (starttime === 0 || seen.starttime === starttime)
  );
}

/**
 * Identity, parent and name of one process, read now. /proc answers for thread ids too
 * (unlisted); a thread is not a process, and signalling its id would hit its whole
 * process, so a thread id reads as no process (checked against Tgid in status, proc(5)).
 * @param listed the pid comes from a listing of /proc, which names processes only: the
 *   thread check (a read of status) is skipped.
 * @returns undefined when no process has this pid (or its files cannot be parsed).
 */
export function readIdentity(
  procRoot: string,
  pid: number,
  listed = false,
): SeenProcess | undefined {
  try {
    const stat = readWhole(`${procRoot}/${pid}/stat`);
    if (!stat) return undefined;
    let uid: number[] | undefined;
    if (!listed) {
      const status = readWhole(`${procRoot}/${pid}/status`);
      const st = status && parseStatus(status);
      if (!st || st.tgid !== pid) return undefined;
      uid = st.uid;
    }
    const s = parsePidStat(stat);
    return { pid, starttime: s.starttime, ppid: s.ppid, comm: s.comm, state: s.state, uid };
  } catch {
    return undefined;
  }
}
