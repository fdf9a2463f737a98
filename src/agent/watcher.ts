/**
 * Notices processes that start and end on this node by listing /proc every
 * `defaults.processPollMs` while someone listens (an `events` stream or a `wait` for a
 * process the agent did not start). Only new PIDs have their stat read, so a tick costs
 * one directory listing. A process that starts and ends within one tick is not seen.
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

/** Polls /proc every defaults.processPollMs while it has users, emitting process starts and exits. */
export class ProcessWatcher extends EventEmitter<WatcherEvents> {
  private known = new Map<number, SeenProcess>();
  private timer: NodeJS.Timeout | undefined;
  private users = 0;

  constructor(private readonly procRoot: string) {
    super();
  }

  /** Starts polling (counted: each acquire needs one release). */
  acquire(): void {
    if (this.users++ === 0) {
      this.known = this.scan(new Map(), false);
      this.timer = setInterval(() => this.tick(), defaults.processPollMs);
      this.timer.unref();
    }
  }

  release(): void {
    if (this.users === 0) return;
    if (--this.users === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const previous = this.known;
    this.known = this.scan(previous, true);
    for (const [pid, p] of previous) {
      const now = this.known.get(pid);
      if (!now || now.starttime !== p.starttime) this.emit('exit', p);
    }
  }

  private scan(previous: Map<number, SeenProcess>, announce: boolean): Map<number, SeenProcess> {
    const next = new Map<number, SeenProcess>();
    for (const pid of listPids(this.procRoot)) {
      const old = previous.get(pid);
      if (old) {
        next.set(pid, old);
        continue;
      }
      const seen = this.read(pid);
      if (!seen) continue;
      next.set(pid, seen);
      if (announce) this.emit('start', seen);
    }
    return next;
  }

  private read(pid: number): SeenProcess | undefined {
    return readIdentity(this.procRoot, pid, true);
  }
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
