/**
 * The cluster as a client sees it: one NodeClient per node and the merged table, refreshed
 * on demand. A refresh asks every up node for one snapshot, all in parallel, each with its
 * own deadline; a node that fails is marked down, left out of the table, and from then on
 * probed in the background (every `defaults.reprobeIntervalMs`) instead of being waited
 * for, so a dead node costs one deadline once, never a hang. It is back as soon as it
 * answers a probe. Concurrent callers share one refresh.
 */
import type { ClusterConfig } from '../config';
import type { Access } from './transport';
import { decodeGpid } from '../gpid';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import { NodeClient } from './client';
import { buildTable, type ClusterTable, type NodeResult } from './table';

/** Fraction of a table's lifetime after which use of it starts the next refresh. */
const PREFETCH = 0.85;

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

  readonly config: ClusterConfig;

  constructor(
    access: Access,
    private readonly log: Logger,
    /** How long one table serves readers, ms. */
    readonly lifetimeMs: number = defaults.snapshotLifetimeMs,
  ) {
    this.config = access.config;
    for (const node of access.config.nodes) this.clients.set(node.id, new NodeClient(node, access));
  }

  /**
   * The table if it is younger than its lifetime, else undefined (the fast path). A table
   * past `PREFETCH` of its lifetime starts the next refresh in the background, so that
   * readers who keep reading rarely wait for one.
   */
  fresh(): ClusterTable | undefined {
    const t = this.table;
    if (!t) return undefined;
    const age = Date.now() - t.builtAtMs;
    if (age >= this.lifetimeMs) return undefined;
    if (age >= this.lifetimeMs * PREFETCH && !this.refreshing) this.refresh().catch(() => {});
    return t;
  }

  /** Builds a new table now (or joins the refresh under way). */
  refresh(): Promise<ClusterTable> {
    this.refreshing ??= this.build().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Forgets the table: the next reader builds a new one (after this mount started a process). */
  invalidate(): void {
    this.table = undefined;
  }

  /** The client of the node that owns `gpid`. @throws GpidError for a malformed gpid. */
  clientFor(gpid: number): NodeClient | undefined {
    return this.clients.get(decodeGpid(gpid).node);
  }

  isDown(node: number): boolean {
    return this.down.has(node);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }

  private async build(): Promise<ClusterTable> {
    const results = await Promise.all(
      this.config.nodes.map(async (config): Promise<NodeResult> => {
        const down = this.down.get(config.id);
        if (down) {
          this.probe(config.id, down);
          return { config, error: down.error, info: this.lastInfo.get(config.id) };
        }
        try {
          const snapshot = await this.clients.get(config.id)!.snapshot();
          if (snapshot.node) this.lastInfo.set(config.id, snapshot.node);
          return { config, snapshot };
        } catch (err) {
          const error = (err as Error).message;
          this.markDown(config.id, error);
          return { config, error, info: this.lastInfo.get(config.id) };
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
