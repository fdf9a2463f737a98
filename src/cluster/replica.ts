/**
 * A mount's replica of one node's process table, kept current by that node's Watch stream
 * (agent/rpc/watch.ts): the whole table when a stream starts, then what changed, about
 * once a second. So the mount lists the node without asking it anything, and a quiet node
 * costs the wire only what changes on it. Each record kept owns its bytes (its files'
 * size), not a view of the message it came in.
 *
 * A stream that ends (the node went away, or its connection's keepalive gave up on a
 * stalled agent) is opened again every `defaults.reprobeIntervalMs`. The replica is kept
 * meanwhile, and replaced whole by the next stream's first message; whether it is listed
 * while its stream is down is the cluster's decision (cluster.ts: a node whose heartbeat
 * answers is busy, not gone).
 */
import type { Logger } from '../log';
import { defaults } from '../defaults';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { Ended__Output } from '../proto/gen/gproc/v1/Ended';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import type { Process__Output } from '../proto/gen/gproc/v1/Process';
import type { Snapshot__Output } from '../proto/gen/gproc/v1/Snapshot';
import type { Started__Output } from '../proto/gen/gproc/v1/Started';
import type { TableUpdate__Output } from '../proto/gen/gproc/v1/TableUpdate';
import type { WatchRequest } from '../proto/gen/gproc/v1/WatchRequest';
import type { NodeClient } from './client';
import { rpcReason } from './client';
import { ownNodeBytes, ownProcessBytes } from '../proto/own-bytes';

/** One node's table as its updates left it. */
export class Replica {
  private readonly processes = new Map<number, Process__Output>();
  private node: NodeInfo__Output | null = null;
  private started: Started__Output[] = [];
  private ended: Ended__Output[] = [];
  private takenAtMs = 0;
  /** Whether it holds a whole table (a full update arrived). */
  synced = false;

  /** Applies one update of a Watch stream (in order; a full one replaces everything). */
  apply(u: TableUpdate__Output): void {
    if (u.full) this.processes.clear();
    else if (!this.synced) return; // a stream always starts with a full update
    for (const pid of u.gone) this.processes.delete(pid);
    // Copied out of the message (proto/own-bytes.ts), which can then be freed.
    for (const p of u.changed) this.processes.set(p.pid, ownProcessBytes(p));
    this.node = u.node && ownNodeBytes(u.node);
    this.started = u.started;
    this.ended = u.ended;
    this.takenAtMs = u.takenAtMs;
    this.synced = true;
  }

  /** The table as a snapshot (processes in no particular order). */
  snapshot(): Snapshot__Output {
    return {
      node: this.node,
      takenAtMs: this.takenAtMs,
      processes: [...this.processes.values()],
      started: this.started,
      ended: this.ended,
    };
  }
}

/** Keeps a node's replica over its Watch stream: see the module comment. */
export class ReplicaFeed {
  readonly replica = new Replica();
  /** Wall clock ms of the last update (0: none yet). */
  lastUpdateMs = 0;
  /** Updates applied so far (metrics). */
  updates = 0;
  private call: ClientDuplexStream<WatchRequest, TableUpdate__Output> | undefined;
  /** Whether the stream is open and its first update arrived. */
  private live = false;
  private lastId = 0;
  /** Requests waiting for their answer: id -> resolve. */
  private readonly waiting = new Map<number, (answered: boolean) => void>();
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  /** @param onUpdate told after every update applied. */
  constructor(
    private readonly client: NodeClient,
    private readonly log: Logger,
    private readonly onUpdate: () => void,
  ) {
    this.open();
  }

  /** Whether the stream is open and has sent its whole table. */
  get connected(): boolean {
    return this.live;
  }

  /**
   * Asks the node for an update from a reading begun now, and resolves `true` when it has
   * been applied, `false` when there is no stream or no answer within `ms`.
   */
  sync(ms: number = defaults.syncWaitMs): Promise<boolean> {
    const call = this.call;
    if (!this.live || !call) return Promise.resolve(false);
    const id = ++this.lastId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answer(id, false), ms);
      this.waiting.set(id, (answered) => {
        clearTimeout(timer);
        resolve(answered);
      });
      call.write({ id });
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.call?.cancel();
    this.call = undefined;
    for (const id of [...this.waiting.keys()]) this.answer(id, false);
  }

  private open(): void {
    const call = this.client.watch();
    this.call = call;
    call.on('data', (u: TableUpdate__Output) => {
      this.replica.apply(u);
      this.updates++;
      this.live = true;
      this.lastUpdateMs = Date.now();
      this.onUpdate();
      for (const id of [...this.waiting.keys()]) if (id <= u.answers) this.answer(id, true);
    });
    call.on('error', (err) => this.lost(call, err));
    call.on('end', () => this.lost(call));
  }

  private answer(id: number, answered: boolean): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.(answered);
  }

  private lost(call: ClientDuplexStream<WatchRequest, TableUpdate__Output>, err?: Error): void {
    if (this.call !== call) return;
    if (this.live) {
      this.log.info(
        { node: this.client.node.id, err: err && rpcReason(err) },
        'watch stream ended; reopening',
      );
    }
    this.call = undefined;
    this.live = false;
    for (const id of [...this.waiting.keys()]) this.answer(id, false);
    if (this.closed) return;
    this.retry = setTimeout(() => this.open(), defaults.reprobeIntervalMs);
    this.retry.unref();
  }
}
