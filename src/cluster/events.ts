/**
 * The cluster's process events (the `events` file): one line per process start or exit on
 * any node, as the agents report them. Streams from the agents are open only while someone
 * reads; a stream that breaks is opened again every `defaults.reprobeIntervalMs`.
 *
 * Line format: `<ms since the epoch> start <gpid> <parent gpid> <comm>` (parent 1, the
 * cluster's root, for a process whose parent is 0 on its node) and
 * `<ms since the epoch> exit <gpid> exited N|killed SIGNAME|gone`, comm escaped as in status
 * (newline as \n, backslash as \\).
 *
 * The lines are kept in one buffer shared by every reader of the mount, each reader holding
 * a cursor into it. A reader at most `defaults.eventsKeptLines` events behind loses none; a
 * reader that fell further behind gets, in place of the events it missed, one line
 * `<ms since the epoch> missed <N>` (N events were dropped before it read them), then goes
 * on with the oldest kept event. Every piece `next` returns is whole lines.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { encodeGpid } from '../gpid';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import type { ProcessEvent__Output } from '../proto/gen/gproc/v1/ProcessEvent';
import { describeExit } from '../exit-status';
import type { Cluster } from './cluster';
import { parentInView } from './root';

/** The events file's lines, shared by every reader of one mount; a reader holds a cursor (a line sequence number). */
export class EventHub {
  private lines: string[] = [];
  /** Sequence number of lines[0]. */
  private firstSeq = 0;
  private waiters = new Set<() => void>();
  private streams = new Map<number, ClientReadableStream<ProcessEvent__Output>>();
  private readers = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly log: Logger,
  ) {}

  /** Starts reading at the next event. @returns the reader's cursor. */
  subscribe(): number {
    if (this.readers++ === 0) this.connect();
    return this.firstSeq + this.lines.length;
  }

  unsubscribe(): void {
    if (--this.readers > 0) return;
    this.disconnect();
    // Nobody reads: the kept lines can go (a new reader starts at the next event anyway).
    this.firstSeq += this.lines.length;
    this.lines = [];
  }

  /** Ends every stream for good (the mount is going away). */
  close(): void {
    this.closed = true;
    this.disconnect();
  }

  private disconnect(): void {
    clearTimeout(this.retry);
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const s of streams) s.cancel();
  }

  /**
   * Whole lines from `cursor` on, at most `maxBytes` of them unless the first line alone is
   * longer (it is returned whole); waits until there is one. A cursor behind the kept lines
   * gets the `missed` line first.
   * @param cursor a sequence number from `subscribe` or from the last `next`.
   * @returns the text (latin1: one character per byte) and the cursor after it.
   */
  async next(cursor: number, maxBytes: number): Promise<{ text: string; cursor: number }> {
    while (cursor >= this.firstSeq + this.lines.length) {
      await new Promise<void>((resolve) => this.waiters.add(resolve));
    }
    let text = cursor < this.firstSeq ? formatMissed(this.firstSeq - cursor) : '';
    let i = Math.max(cursor, this.firstSeq) - this.firstSeq;
    while (i < this.lines.length && (text === '' || text.length + this.lines[i].length <= maxBytes))
      text += this.lines[i++];
    return { text, cursor: this.firstSeq + i };
  }

  /** Adds one event line; keeps between `eventsKeptLines` and twice as many (module comment). */
  private push(line: string): void {
    this.lines.push(line);
    const keep = defaults.eventsKeptLines;
    if (this.lines.length >= 2 * keep) {
      const dropped = this.lines.length - keep;
      this.lines.splice(0, dropped);
      this.firstSeq += dropped;
    }
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private connect(): void {
    if (this.closed) return;
    for (const [id, client] of this.cluster.clients) {
      if (this.streams.has(id)) continue;
      const stream = client.events();
      this.streams.set(id, stream);
      stream.on('data', (e: ProcessEvent__Output) => this.push(formatEvent(id, e)));
      stream.on('error', () => this.lost(id, stream));
      stream.on('end', () => this.lost(id, stream));
    }
  }

  private lost(id: number, stream: ClientReadableStream<ProcessEvent__Output>): void {
    if (this.streams.get(id) !== stream) return;
    this.streams.delete(id);
    if (this.readers === 0 || this.closed) return;
    this.log.debug({ node: id }, 'events stream lost; reconnecting');
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.readers > 0 && this.connect(), defaults.reprobeIntervalMs);
  }
}

/** The line that stands for `count` events a reader missed (module comment). */
export function formatMissed(count: number, nowMs = Date.now()): string {
  return `${nowMs} missed ${count}\n`;
}

/** One event as a line of the events file. */
export function formatEvent(node: number, e: ProcessEvent__Output): string {
  const gpid = encodeGpid(node, e.pid);
  if (e.kind === 'START') {
    const comm = e.comm.toString('latin1').replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
    return `${e.timeMs} start ${gpid} ${parentInView(node, e.ppid)} ${comm}\n`;
  }
  return `${e.timeMs} exit ${gpid} ${describeExit(e.status ?? {})}\n`;
}
