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
import type { ClusterConfig, NodeConfig } from '../config';
import type { Access } from './transport';
import { decodeGpid } from '../gpid';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { status } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import type { Snapshot__Output } from '../proto/gen/gproc/v1/Snapshot';
import { LivenessMonitor } from '../liveness/monitor';
import { isIdentityMismatch } from './transport';
import { StaticMembership, type Membership } from './membership';
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
  /**
   * Each node's last snapshot, served while it is up but busy, until its replica has a
   * whole table (then it is dropped: 3-7 KB a process, views of one whole message).
   */
  private readonly lastSnapshot = new Map<number, Snapshot__Output>();
  /** Heartbeats of every node (daemons only). */
  readonly monitor: LivenessMonitor | undefined;
  /** Every node's replica, by node id (daemons only). */
  readonly feeds = new Map<number, ReplicaFeed>();
  /** The next refresh first asks every replica for an update (after a start, or a miss). */
  private syncNext = false;
  /** The last table built after asking every replica, and when it asked (wall clock ms). */
  private lastSynced: { table: ClusterTable; askedAtMs: number } | undefined;

  /** The cluster file, with `nodes` the membership's nodes now. */
  readonly config: ClusterConfig;
  private readonly membership: Membership;
  /** Nodes dropped because their agent's certificate names another node: id -> address. */
  private readonly impostors = new Map<number, string>();

  constructor(
    private readonly access: Access,
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
      /** Where the nodes come from (default: the cluster file's `nodes`, fixed). */
      membership?: Membership;
    } = {},
  ) {
    this.config = access.config;
    this.onSnapshot = opts.onSnapshot;
    this.membership = opts.membership ?? new StaticMembership(access.config.nodes);
    this.lifetimeMs = opts.lifetimeMs ?? defaults.snapshotLifetimeMs;
    const nodes = this.membership.nodes();
    this.config.nodes = nodes;
    for (const node of nodes) this.clients.set(node.id, new NodeClient(node, access));
    this.membership.on('change', (next) => this.setNodes(next));
    if (opts.watch) {
      this.monitor = new LivenessMonitor(nodes);
      this.monitor.on('change', (node, state) => {
        if (state === 'down' && !this.monitor?.isDown(node)) return; // never answered: judged by its calls
        if (state === 'down') this.log.warn({ node }, 'node down: its heartbeat is silent');
        else this.log.info({ node }, 'node up: its heartbeat answers');
        if (state === 'up') this.down.delete(node); // ask it at the next refresh
        this.table = undefined;
      });
      for (const [id, client] of this.clients) this.feed(id, client);
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
    // A refresh under way may have begun without asking: the one after it asks.
    const under = this.refreshing;
    return under ? under.catch(() => {}).then(() => this.refresh()) : this.refresh();
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
    this.membership.close();
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
    this.lastSnapshot.delete(node); // listed from the replica from now on
  }

  /** A replica of `node` over `client`'s Watch stream (daemons only). */
  private feed(id: number, client: NodeClient): void {
    if (this.monitor)
      this.feeds.set(id, new ReplicaFeed(client, this.log, () => this.replicaUpdated(id)));
  }

  /** Stops watching node `id`: its feed, client and heartbeat go. */
  private forget(id: number): void {
    this.feeds.get(id)?.close();
    this.feeds.delete(id);
    this.clients.get(id)?.close();
    this.clients.delete(id);
    this.monitor?.untrack(id);
    this.down.delete(id);
  }

  /**
   * Takes a new node set from the membership: clients and heartbeats for the nodes that
   * joined (or moved), none for those that left; the next reader builds a table of these.
   */
  private setNodes(next: NodeConfig[]): void {
    const ids = new Set(next.map((n) => n.id));
    for (const [id, client] of this.clients) {
      const now = next.find((n) => n.id === id);
      if (now && now.address === client.node.address && now.socket === client.node.socket) continue;
      this.forget(id);
      this.lastInfo.delete(id);
      this.lastSnapshot.delete(id);
      if (!ids.has(id)) this.log.info({ node: id }, 'node left the cluster');
    }
    for (const node of next) {
      if (this.clients.has(node.id)) continue;
      if (this.impostors.get(node.id) === node.address) continue; // still the same claim
      this.impostors.delete(node.id);
      const client = new NodeClient(node, this.access);
      this.clients.set(node.id, client);
      this.monitor?.track(node);
      this.feed(node.id, client);
      this.log.info({ node: node.id, address: node.address }, 'node joined the cluster');
      // Asked at once, whether or not anyone reads the view: its connection is ready for
      // the first reader, and a registration its certificate contradicts is dropped now.
      client.nodeInfo().then(
        (info) => this.lastInfo.set(node.id, info),
        (err: unknown) => {
          if (isIdentityMismatch(err) && this.clients.get(node.id) === client)
            this.dropImpostor(node, (err as Error).message);
        },
      );
    }
    this.config.nodes = next.filter((n) => this.clients.has(n.id));
    this.invalidate();
  }

  /**
   * Leaves out a registered node whose agent's certificate names another node (spec 7: the
   * certificate wins over the registration), until it registers at another address.
   */
  private dropImpostor(node: NodeConfig, error: string): void {
    this.log.warn(
      { node: node.id, address: node.address, error },
      "registration dropped: the agent's certificate names another node",
    );
    this.impostors.set(node.id, node.address);
    this.forget(node.id);
    this.config.nodes = this.config.nodes.filter((n) => n.id !== node.id);
    this.invalidate();
  }

  /** How long ago `table` was built after asking every replica, ms (undefined: it was not). */
  askedAgoMs(table: ClusterTable): number | undefined {
    const s = this.lastSynced;
    return s?.table === table ? Date.now() - s.askedAtMs : undefined;
  }

  private async build(): Promise<ClusterTable> {
    const askedAtMs = this.syncNext ? Date.now() : undefined;
    if (this.syncNext) {
      this.syncNext = false;
      await Promise.all(
        [...this.feeds].filter(([id]) => !this.monitor?.isDown(id)).map(([, f]) => f.sync()),
      );
    }
    const nodes = this.config.nodes;
    const dropped: { node: NodeConfig; error: string }[] = [];
    const offset = (id: number) => this.monitor?.health(id).clockOffsetMs;
    const results = await Promise.all(
      nodes.map(async (config): Promise<NodeResult> => {
        const info = this.lastInfo.get(config.id);
        if (this.monitor?.isDown(config.id))
          return { config, error: 'its heartbeat is silent', info };
        const feed = this.usableReplica(config.id);
        if (feed) {
          const snapshot = feed.replica.snapshot();
          if (snapshot.node) this.lastInfo.set(config.id, snapshot.node);
          return { config, snapshot, clockOffsetMs: offset(config.id) };
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
          const client = this.clients.get(config.id);
          if (!client) return { config, error: 'it left the cluster', info };
          const snapshot = await client.snapshot();
          took(true);
          if (snapshot.node) this.lastInfo.set(config.id, snapshot.node);
          if (this.monitor) this.lastSnapshot.set(config.id, snapshot);
          return { config, snapshot, clockOffsetMs: offset(config.id) };
        } catch (err) {
          took(false);
          const busy =
            (err as { code?: number }).code === status.DEADLINE_EXCEEDED &&
            this.monitor?.health(config.id).state === 'up';
          const last = this.lastSnapshot.get(config.id);
          if (busy && last) {
            this.log.info({ node: config.id }, 'node busy: listed from its last snapshot');
            return { config, snapshot: last, clockOffsetMs: offset(config.id) };
          }
          const error = (err as Error).message;
          if (isIdentityMismatch(err)) dropped.push({ node: config, error });
          else this.markDown(config.id, error);
          return { config, error, info };
        }
      }),
    );
    for (const d of dropped) this.dropImpostor(d.node, d.error);
    if (dropped.length) {
      const gone = new Set(dropped.map((d) => d.node.id));
      results.splice(0, results.length, ...results.filter((r) => !gone.has(r.config.id)));
    }
    const table = buildTable(results, this.previous, ++this.generation, (node, pid, err) =>
      this.log.warn({ node, pid, err: err.message }, 'process left out of the cluster view'),
    );
    this.table = table;
    this.previous = table;
    if (askedAtMs !== undefined) this.lastSynced = { table, askedAtMs };
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
    const client = this.clients.get(node);
    if (!client) return;
    client.nodeInfo().then(
      (info) => {
        this.lastInfo.set(node, info);
        this.down.delete(node);
        this.log.info({ node }, 'node up again');
        this.invalidate(); // the next reader builds a table with it
      },
      (err: unknown) => {
        state.probing = false;
        if (isIdentityMismatch(err) && this.clients.get(node) === client)
          this.dropImpostor(client.node, (err as Error).message);
      },
    );
  }
}
