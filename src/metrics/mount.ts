/**
 * What a mount tells Prometheus about its view (spec section 8): counts and timings only,
 * never a process's command, user or pid. Labels name nodes by id and FUSE operations by
 * name, both bounded sets.
 *
 *   gproc_mount_nodes{state}                    gauge, nodes up and down as the mount sees them
 *   gproc_mount_node_up{node}                   gauge, 1 while node <id> is up, else 0
 *   gproc_mount_refresh_seconds{node}           histogram, one node's snapshot call in a
 *                                               refresh of the view (answered calls only)
 *   gproc_mount_refresh_failures_total{node}    counter, snapshot calls that brought none
 *   gproc_mount_replica_updates_total{node}     counter, updates of node <id>'s replica
 *                                               applied from its Watch stream
 *   gproc_mount_replica_age_seconds{node}       gauge, time since that replica's last
 *                                               update (its freshness; -1: none yet)
 *   gproc_mount_fuse_seconds{mount,op}          histogram, FUSE requests by operation
 *                                               (getattr, read...) from the kernel's
 *                                               hand-over to the answer; mount is "view"
 *                                               (the cluster view) or "control"
 *   gproc_mount_fuse_errors_total{mount,op}     counter, requests answered with an errno
 *
 * plus prom-client's default process metrics. A FUSE request costs a few additions into
 * counts made once per operation at mount time (fast-histogram.ts); the errors are handed
 * to prom-client at scrape time.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Cluster } from '../cluster/cluster';
import type { ClusterConfig } from '../config';
import { defaults } from '../defaults';
import { FastHistogram } from './fast-histogram';
import { daemonRegistry } from './registry';

/** Records one FUSE request of an operation: its time in seconds, and whether it failed. */
export type RequestRecorder = (seconds: number, failed: boolean) => void;

export class MountMetrics {
  readonly registry = daemonRegistry();
  private readonly refresh: Histogram<'node'>;
  private readonly refreshFailures: Counter<'node'>;
  private readonly fuse: FastHistogram<'mount' | 'op'>;
  /** Errors of each operation of each mount, counted here and read at scrape time. */
  private readonly errors: { mount: string; op: string; n: number }[] = [];
  /** The cluster whose nodes' states are reported (set once the mount has made it). */
  private cluster: Cluster | undefined;

  constructor(config: ClusterConfig) {
    const registers = [this.registry];
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    /** The nodes now: the cluster's (its membership may change: etcd), else the file's. */
    const nodeIds = () => (self.cluster?.config ?? config).nodes.map((n) => n.id);
    new Gauge({
      name: 'gproc_mount_nodes',
      help: 'Nodes of the cluster file by state (up, down) as this mount sees them.',
      labelNames: ['state'],
      registers,
      collect() {
        const c = self.cluster;
        const ids = nodeIds();
        const down = c ? ids.filter((id) => c.isDown(id)).length : 0;
        this.set({ state: 'up' }, ids.length - down);
        this.set({ state: 'down' }, down);
      },
    });
    new Gauge({
      name: 'gproc_mount_node_up',
      help: 'Whether this mount sees node <id> up (1) or down (0).',
      labelNames: ['node'],
      registers,
      collect() {
        const c = self.cluster;
        this.reset();
        for (const id of nodeIds()) this.set({ node: String(id) }, c && c.isDown(id) ? 0 : 1);
      },
    });
    new Counter({
      name: 'gproc_mount_replica_updates_total',
      help: "Updates of node <id>'s replica applied from its Watch stream.",
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        for (const id of nodeIds())
          this.inc({ node: String(id) }, self.cluster?.feeds.get(id)?.updates ?? 0);
      },
    });
    new Gauge({
      name: 'gproc_mount_replica_age_seconds',
      help: "Seconds since node <id>'s replica was last updated (-1: not yet).",
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        for (const id of nodeIds()) {
          const at = self.cluster?.feeds.get(id)?.lastUpdateMs ?? 0;
          this.set({ node: String(id) }, at ? (Date.now() - at) / 1000 : -1);
        }
      },
    });
    this.refresh = new Histogram({
      name: 'gproc_mount_refresh_seconds',
      help: "One node's snapshot call in a refresh of the view, seconds (answered calls).",
      labelNames: ['node'],
      buckets: [...defaults.snapshotSecondsBuckets],
      registers,
    });
    this.refreshFailures = new Counter({
      name: 'gproc_mount_refresh_failures_total',
      help: 'Snapshot calls of a refresh that brought no snapshot (node down, refused, late).',
      labelNames: ['node'],
      registers,
    });
    this.fuse = new FastHistogram({
      name: 'gproc_mount_fuse_seconds',
      help: 'FUSE requests served, by mount (view, control) and operation, seconds.',
      labelNames: ['mount', 'op'],
      buckets: [...defaults.fuseSecondsBuckets],
      registers,
    });
    new Counter({
      name: 'gproc_mount_fuse_errors_total',
      help: 'FUSE requests answered with an error number, by mount and operation.',
      labelNames: ['mount', 'op'],
      registers,
      collect() {
        this.reset();
        for (const e of self.errors) this.inc({ mount: e.mount, op: e.op }, e.n);
      },
    });
    for (const id of nodeIds()) this.refreshFailures.labels(String(id)).inc(0);
  }

  /** Reports `cluster`'s node states from now on. */
  watch(cluster: Cluster): void {
    this.cluster = cluster;
  }

  /** Records one node's snapshot call of a refresh (Cluster's `onSnapshot`). */
  readonly snapshot = (node: number, seconds: number, ok: boolean): void => {
    if (ok) this.refresh.labels(String(node)).observe(seconds);
    else this.refreshFailures.labels(String(node)).inc();
  };

  /**
   * The recorder of operation `op` of mount `mount` ("view", "control"): its label children
   * are made here, once, so that a request only observes.
   */
  requests(mount: string): (op: string) => RequestRecorder {
    return (op) => {
      const observe = this.fuse.child({ mount, op });
      const errors = { mount, op, n: 0 };
      this.errors.push(errors);
      return (seconds, failed) => {
        observe(seconds);
        if (failed) errors.n++;
      };
    };
  }
}
