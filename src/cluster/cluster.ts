/**
 * The cluster as a client sees it: one NodeClient per node and the merged table, rebuilt
 * at most once per lifetime while it is read. Concurrent callers share one refresh.
 *
 * A daemon (`watch`: a mount) keeps a replica of every node's table (replica.ts), fed by
 * the node's Watch stream, so a refresh asks no node anything: it merges the replicas.
 * A short-lived command, and a daemon for a node whose replica is not there yet, ask each
 * node for one snapshot instead, all in parallel, each with its own deadline.
 *
 * Which nodes are up, a daemon learns from their heartbeats (liveness/monitor.ts), on a
 * timer of its own: a node that goes silent is down before anyone asks, so no reader waits
 * a deadline for it, and it is up again at its first answer. A node that answers its
 * heartbeat but is slow to send its table (its stream ended, or a snapshot missed its
 * deadline) is busy, not gone: it stays up, listed from its replica or last snapshot. A
 * node whose snapshot fails otherwise (refused, unreachable) is marked down and probed in
 * the background (every `defaults.reprobeIntervalMs`) until it answers.
 */
import type { ClusterConfig } from '../config';
import type { Access } from './transport';
import { decodeGpid } from '../gpid';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { status } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import type { Snapshot__Output } from '../proto/gen/gproc/v1/Snapshot';
import { LivenessMonitor } from '../liveness/monitor';
import { NodeClient } from './client';
import { ReplicaFeed } from './replica';
import { buildTable, type ClusterTable, type NodeResult } from './table';

interface DownState {
  error: string;
  lastProbeMs: number;
  probing: boolean;
}

/** Every node of the cluster file and the merged table; see the module comment for refresh and down nodes. */
export class Cluster {
  readonly clients = new Map<number, NodeClient>();
  private table: ClusterTable | undefined;
  /** The last table built, kept when `table` is dropped (its btime and parsed stats carry over). */
  private previous: ClusterTable | undefined;
  private refreshing: Promise<ClusterTable> | undefined;
  private generation = 0;
  private readonly down = new Map<number, DownState>();
  private readonly lastInfo = new Map<number, NodeInfo__Output>();
  /** Each node's last snapshot, served while it is up but busy. */
  private readonly lastSnapshot = new Map<number, Snapshot__Output>();
  /** Heartbeats of every node (daemons only). */
  readonly monitor: LivenessMonitor | undefined;
  /** Every node's replica, by node id (daemons only). */
  readonly feeds = new Map<number, ReplicaFeed>();
  /** The next refresh first asks every replica for an update (after a start, or a miss). */
  private syncNext = false;

  readonly config: ClusterConfig;

  constructor(
    access: Access,
    private readonly log: Logger,
    opts: {
      /** How long one table serves readers, ms. */
      lifetimeMs?: number;
      /** Keep every node's state by heartbeat (a mount); a short-lived command does not. */
      watch?: boolean;
      /**
       * Told the time of each node's snapshot call of a refresh, seconds, and whether it
       * brought a snapshot (metrics).
       */
      onSnapshot?: (node: number, seconds: number, ok: boolean) => void;
    } = {},
  ) {
    this.config = access.config;
    this.onSnapshot = opts.onSnapshot;
    this.lifetimeMs = opts.lifetimeMs ?? defaults.snapshotLifetimeMs;
    for (const node of access.config.nodes) this.clients.set(node.id, new NodeClient(node, access));
    if (opts.watch) {
      this.monitor = new LivenessMonitor(access.config.nodes);
      this.monitor.on('change', (node, state) => {
        if (state === 'down' && !this.monitor?.isDown(node)) return; // never answered: judged by its calls
        if (state === 'down') this.log.warn({ node }, 'node down: its heartbeat is silent');
        else this.log.info({ node }, 'node up: its heartbeat answers');
        if (state === 'up') this.down.delete(node); // ask it at the next refresh
        this.table = undefined;
      });
      for (const [id, client] of this.clients)
        this.feeds.set(id, new ReplicaFeed(client, log, () => this.replicaUpdated(id)));
    }
  }

  /** How long one table serves readers, ms. */
  readonly lifetimeMs: number;
  private readonly onSnapshot: ((node: number, seconds: number, ok: boolean) => void) | undefined;

  /**
   * The table if it is younger than its lifetime, else undefined (the fast path). A table
   * past `defaults.refreshAheadFraction` of its lifetime starts the next refresh in the background, so that
   * readers who keep reading rarely wait for one.
   */
  fresh(): ClusterTable | undefined {
    const t = this.table;
    if (!t) return undefined;
    const age = Date.now() - t.builtAtMs;
    if (age >= this.lifetimeMs) return undefined;
    if (age >= this.lifetimeMs * defaults.refreshAheadFraction && !this.refreshing)
      this.refresh().catch(() => {});
    return t;
  }

  /** Builds a new table now (or joins the refresh under way). */
  refresh(): Promise<ClusterTable> {
    this.refreshing ??= this.build().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Builds a new table from what every node has now: replicas are first asked for an
   * update (each waits at most `defaults.syncWaitMs`). For a lookup of a process the table
   * does not know, which may have started a moment ago.
   */
  sync(): Promise<ClusterTable> {
    this.syncNext = true;
    return this.refresh();
  }

  /** Forgets the table: the next reader builds a new one, with every replica brought up to date (after this mount started a process). */
  invalidate(): void {
    this.table = undefined;
    this.syncNext = true;
  }

  /** The client of the node that owns `gpid`. @throws GpidError for a malformed gpid. */
  clientFor(gpid: number): NodeClient | undefined {
    return this.clients.get(decodeGpid(gpid).node);
  }

  isDown(node: number): boolean {
    return this.down.has(node) || !!this.monitor?.isDown(node);
  }

  close(): void {
    this.monitor?.close();
    for (const f of this.feeds.values()) f.close();
    for (const c of this.clients.values()) c.close();
  }

  /**
   * The replica of `node` when it can be listed from: its stream is open, or it was and the
   * node's heartbeat answers (a node that never answered its heartbeat is judged by its calls).
   */
  private usableReplica(node: number): ReplicaFeed | undefined {
    const feed = this.feeds.get(node);
    if (!feed?.replica.synced) return undefined;
    if (feed.connected) return feed;
    const health = this.monitor?.health(node);
    return health?.state === 'up' && health.lastAnswerMs !== undefined ? feed : undefined;
  }

  private replicaUpdated(node: number): void {
    this.down.delete(node); // it answers
  }

  private async build(): Promise<ClusterTable> {
    if (this.syncNext) {
      this.syncNext = false;
      await Promise.all(
        [...this.feeds].filter(([id]) => !this.monitor?.isDown(id)).map(([, f]) => f.sync()),
      );
    }
    const results = await Promise.all(
      this.config.nodes.map(async (config): Promise<NodeResult> => {
        const info = this.lastInfo.get(config.id);
        if (this.monitor?.isDown(config.id))
          return { config, error: 'its heartbeat is silent', info };
        const feed = this.usableReplica(config.id);
        if (feed) {
          const snapshot = feed.replica.snapshot();
          if (snapshot.node) this.lastInfo.set(config.id, snapshot.node);
          return { config, snapshot };
        }
        const down = this.down.get(config.id);
        if (down) {
          this.probe(config.id, down);
          return { config, error: down.error, info };
        }
        const start = performance.now();
        const took = (ok: boolean) =>
          this.onSnapshot?.(config.id, (performance.now() - start) / 1000, ok);
        try {
          const snapshot = await this.clients.get(config.id)!.snapshot();
          took(true);
          if (snapshot.node) this.lastInfo.set(config.id, snapshot.node);
          if (this.monitor) this.lastSnapshot.set(config.id, snapshot);
          return { config, snapshot };
        } catch (err) {
          took(false);
          const busy =
            (err as { code?: number }).code === status.DEADLINE_EXCEEDED &&
            this.monitor?.health(config.id).state === 'up';
          const last = this.lastSnapshot.get(config.id);
          if (busy && last) {
            this.log.info({ node: config.id }, 'node busy: listed from its last snapshot');
            return { config, snapshot: last };
          }
          const error = (err as Error).message;
          this.markDown(config.id, error);
          return { config, error, info };
        }
      }),
    );
    const table = buildTable(results, this.previous, ++this.generation, (node, pid, err) =>
      this.log.warn({ node, pid, err: err.message }, 'process left out of the cluster view'),
    );
    this.table = table;
    this.previous = table;
    return table;
  }

  private markDown(node: number, error: string): void {
    if (!this.down.has(node)) this.log.warn({ node, error }, 'node down');
    this.down.set(node, { error, lastProbeMs: Date.now(), probing: false });
  }

  /** Asks a down node again (at most every reprobe interval, one probe at a time). */
  private probe(node: number, state: DownState): void {
    if (state.probing || Date.now() - state.lastProbeMs < defaults.reprobeIntervalMs) return;
    state.probing = true;
    state.lastProbeMs = Date.now();
    this.clients
      .get(node)!
      .nodeInfo()
      .then(
        (info) => {
          this.lastInfo.set(node, info);
          this.down.delete(node);
          this.log.info({ node }, 'node up again');
          this.invalidate(); // the next reader builds a table with it
        },
        () => (state.probing = false),
      );
  }
}
