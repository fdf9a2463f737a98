/**
 * The cluster's process events (the `events` file): one line per process start or exit on
 * any node, as the agents report them. Streams from the agents are open only while someone
 * reads; a stream that breaks is opened again every `defaults.reprobeIntervalMs`.
 *
 * Line format: `<ms since the epoch> start <gpid> <parent gpid> <comm>` and
 * `<ms since the epoch> exit <gpid> exited N|killed SIGNAME|gone`, comm escaped as in status
 * (newline as \n, backslash as \\).
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { encodeGpid, translatePid } from '../gpid';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import type { ProcessEvent__Output } from '../proto/gen/gproc/v1/ProcessEvent';
import { describeExit } from '../exit-status';
import type { Cluster } from './cluster';

/** Lines kept for readers that fall behind; older ones are dropped. */
const KEEP_LINES = 10000;

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
   * Whole lines from `cursor` on, at most `maxBytes`; waits until there is one.
   * @returns the text and the cursor after it.
   */
  async next(cursor: number, maxBytes: number): Promise<{ text: string; cursor: number }> {
    while (cursor >= this.firstSeq + this.lines.length) {
      await new Promise<void>((resolve) => this.waiters.add(resolve));
    }
    let i = Math.max(cursor, this.firstSeq) - this.firstSeq;
    let text = '';
    while (i < this.lines.length && (text === '' || text.length + this.lines[i].length <= maxBytes)) text += this.lines[i++];
    return { text: text.slice(0, maxBytes), cursor: this.firstSeq + i };
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) {
      const dropped = this.lines.length - KEEP_LINES / 2;
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

/** One event as a line of the events file. */
export function formatEvent(node: number, e: ProcessEvent__Output): string {
  const gpid = encodeGpid(node, e.pid);
  if (e.kind === 'START') {
    const comm = e.comm.toString('latin1').replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
    return `${e.timeMs} start ${gpid} ${translatePid(node, e.ppid)} ${comm}\n`;
  }
  return `${e.timeMs} exit ${gpid} ${describeExit(e.status ?? {})}\n`;
}
