/**
 * Mounting the cluster view (spec sections 2 and 3). One mount daemon puts up:
 *   MOUNTPOINT                           the cluster view (kernel-cached, see cached-view)
 *   /run/gproc/mounts/<key>/control      the control view (direct I/O, open handles)
 *   /run/gproc/mounts/<key>/proc         a procfs of this machine (target of self and of
 *                                        local PIDs, reachable under `gproc exec` too)
 * where <key> names MOUNTPOINT, and records itself in /run/gproc/mounts/<key>/pid before
 * mounting. Mounts left by a daemon that died or is frozen are cleared first, without
 * touching them (stale-mount.ts); a live daemon's are refused. No code path of the daemon
 * reads its own mounts: they are found in /proc/self/mountinfo, and the runtime directory
 * is removed entry by entry (rmdir of a mount point fails, it never descends into one).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from '../cluster/cluster';
import type { Membership } from '../cluster/membership';
import type { ClusterConfig } from '../config';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { metricsKey, serveMetrics, type MetricsServer } from '../metrics/http';
import { MountMetrics } from '../metrics/mount';
import { CachedView } from './cached-view';
import { ControlView } from './control-view';
import { mountFuse, type FuseMount, type MountOptions } from './fuse';
import {
  clearStaleMounts,
  mountsAt,
  ownsMount,
  parseMountinfo,
  recordDaemon,
  recordFile,
} from './stale-mount';

const execFileAsync = promisify(execFile);

export interface MountedView {
  mountPoint: string;
  cluster: Cluster;
  view: CachedView;
  /** Unmounts everything this mount put up. */
  close(): Promise<void>;
}

/** The runtime directory of the mount at `mountPoint`. */
export function runtimeDir(mountPoint: string): string {
  const abs = resolve(mountPoint);
  const readable = abs
    .replace(/^\/+/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(-40);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return `${defaults.runDir}/mounts/${readable}-${hash}`;
}

/**
 * The mount options of the cluster view (also given to `make bench`'s C floor daemon).
 * max_readahead=0: reads are synchronous requests, so a blocked `wait` read never holds one
 * of the kernel's few background request slots (see native-notes/caching.md).
 */
export const VIEW_MOUNT_OPTIONS: MountOptions = {
  cacheSeconds: defaults.kernelCacheSeconds,
  extra: ['max_readahead=0', 'big_writes'],
};

/**
 * Mounts the cluster view at `mountPoint`.
 * @param localNode this machine's node id (0: none), used for osrelease and in audit logs.
 * When the local node's entry of the cluster file names `metrics.mount`, the view's counts
 * and timings are served there (metrics/mount.ts) until the view is closed.
 * @throws AlreadyMountedError when a live gproc daemon (or another file system) has the
 *   mount point; Error when FUSE is unavailable (/dev/fuse, libfuse2); ConfigError when
 *   the metrics address cannot be listened on.
 */
export async function mountClusterView(opts: {
  config: ClusterConfig;
  mountPoint: string;
  localNode: number;
  log: Logger;
  /** Where the nodes come from (default: the cluster file's fixed list). */
  membership?: Membership;
  /** procfs's hidepid=1: other users' process directories are mode 0500 (tree.ts). */
  hidePid?: boolean;
}): Promise<MountedView> {
  const mountPoint = resolve(opts.mountPoint);
  const run = runtimeDir(mountPoint);
  const hostProc = `${run}/proc`;
  const controlMount = `${run}/control`;
  // A live daemon's mounts are left alone (and refused); a dead or frozen one's are cleared.
  const cleared = clearStaleMounts({ mountPoint, run, log: opts.log });
  if (cleared.length) opts.log.info({ cleared }, 'stale mounts detached');
  mkdirSync(hostProc, { recursive: true });
  recordDaemon(run);
  const procMounted =
    mountsAt(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), hostProc).length > 0;
  if (!procMounted)
    execFileSync('mount', ['-t', 'proc', 'proc', hostProc], { timeout: defaults.mountCommandMs });

  const self = opts.config.nodes.find((n) => n.id === opts.localNode);
  const metrics = self?.metrics?.mount ? new MountMetrics(opts.config) : undefined;
  let endpoint: MetricsServer | undefined;
  if (self?.metrics?.mount && metrics) {
    const key = metricsKey(opts.config.source, opts.config.nodes.indexOf(self), 'mount');
    endpoint = await serveMetrics(metrics.registry, self.metrics.mount, key, opts.log);
  }
  // The mount runs as root and acts for the owners of the files written (the kernel checked
  // the writers), reaching other nodes with this node's certificate.
  const cluster = new Cluster(
    { config: opts.config, self: opts.localNode, role: 'daemon' },
    opts.log,
    { watch: true, onSnapshot: metrics?.snapshot, membership: opts.membership },
  );
  metrics?.watch(cluster);
  const control = new ControlView(cluster, opts.log);
  const view = new CachedView({
    cluster,
    hostProc,
    controlMount,
    localNode: opts.localNode,
    log: opts.log,
    hidePid: opts.hidePid ?? false,
  });
  const cache = { cacheSeconds: VIEW_MOUNT_OPTIONS.cacheSeconds };
  const mounts: FuseMount[] = [];
  const close = async () => {
    control.close();
    // A daemon that was frozen and taken over (its record names the new daemon) leaves the
    // mount points alone: unmounting by path would take down the new daemon's mounts.
    if (ownsMount(run)) {
      for (const m of mounts.reverse()) {
        if (!(await m.unmount()))
          opts.log.warn({ mountPoint: m.mountPoint }, 'unmount did not finish in time');
      }
      mounts.length = 0;
      // Not execFileSync: a umount that hangs (a command stuck in the kernel ignores its
      // timeout's SIGTERM) would stop the event loop, and with it the daemon's own bound
      // on closing (cli/mount.ts). SIGKILL at the timeout, and the loop runs meanwhile.
      await execFileAsync('umount', ['--lazy', '--no-canonicalize', hostProc], {
        timeout: defaults.mountCommandMs,
        killSignal: 'SIGKILL',
      }).catch(() => {
        // already gone, or killed at its bound: the next start clears what is left
      });
      rmSync(recordFile(run), { force: true });
      for (const dir of [controlMount, hostProc, run]) {
        try {
          rmdirSync(dir);
        } catch {
          // still a mount point (left for the next start to clear), or gone already
        }
      }
    } else {
      opts.log.warn(
        { mountPoint },
        'another daemon took this mount over: leaving its mounts alone',
      );
    }
    cluster.close();
    await endpoint?.close();
  };
  try {
    mounts.push(
      await mountFuse(controlMount, control.ops(), {
        ...cache,
        extra: ['direct_io', 'big_writes'],
        record: metrics?.requests('control'),
      }),
    );
    mounts.push(
      await mountFuse(mountPoint, view.ops(), {
        ...VIEW_MOUNT_OPTIONS,
        record: metrics?.requests('view'),
      }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  opts.log.info(
    { mountPoint, control: controlMount, nodes: opts.config.nodes.length },
    'cluster view mounted',
  );
  return { mountPoint, cluster, view, close };
}
