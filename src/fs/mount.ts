/**
 * Mounting the cluster view (spec sections 2 and 3). One mount daemon puts up:
 *   MOUNTPOINT                           the cluster view (kernel-cached, see cached-view)
 *   /run/gproc/mounts/<key>/control      the control view (direct I/O, open handles)
 *   /run/gproc/mounts/<key>/proc         a procfs of this machine (target of self and of
 *                                        local PIDs, reachable under `gproc exec` too)
 * where <key> names MOUNTPOINT. Mounts left by a daemon that died are cleared first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cluster } from '../cluster/cluster';
import type { ClusterConfig } from '../config';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { CachedView } from './cached-view';
import { ControlView } from './control-view';
import { mountFuse, type FuseMount } from './fuse';

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
  const readable = abs.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(-40);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return `${defaults.runDir}/mounts/${readable}-${hash}`;
}

/** True when `dir` is a mount point whose file system answers (not a dead daemon's). */
function isLiveMount(dir: string): boolean {
  if (!isMountPoint(dir)) return false;
  try {
    statSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOTCONN';
  }
}

/** True when `dir` is a mount point (per /proc/self/mountinfo). */
function isMountPoint(dir: string): boolean {
  const escaped = dir.replace(/ /g, '\\040');
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === escaped);
}

/**
 * Mounts the cluster view at `mountPoint`.
 * @param localNode this machine's node id (0: none), used for osrelease and in audit logs.
 * @throws when FUSE is unavailable (/dev/fuse, libfuse2) or the mount point is in use.
 */
export async function mountClusterView(opts: {
  config: ClusterConfig;
  mountPoint: string;
  localNode: number;
  log: Logger;
}): Promise<MountedView> {
  const mountPoint = resolve(opts.mountPoint);
  const run = runtimeDir(mountPoint);
  const hostProc = `${run}/proc`;
  const controlMount = `${run}/control`;
  // A live mount there (another daemon's) is left alone; a dead one is cleared below.
  for (const dir of [mountPoint, controlMount]) {
    if (isLiveMount(dir)) throw new Error(`${dir} is already mounted (is another gproc mount running there?)`);
  }
  mkdirSync(hostProc, { recursive: true });
  if (!isMountPoint(hostProc)) execFileSync('mount', ['-t', 'proc', 'proc', hostProc]);

  // The mount runs as root and acts for the owners of the files written (the kernel checked
  // the writers), reaching other nodes with this node's certificate.
  const cluster = new Cluster({ config: opts.config, self: opts.localNode, role: 'daemon' }, opts.log, { watch: true });
  const control = new ControlView(cluster, opts.log);
  const view = new CachedView({ cluster, hostProc, controlMount, localNode: opts.localNode, log: opts.log });
  const cache = { cacheSeconds: defaults.kernelCacheSeconds };
  const mounts: FuseMount[] = [];
  const close = async () => {
    control.close();
    for (const m of mounts.reverse()) await m.unmount();
    mounts.length = 0;
    try {
      execFileSync('umount', ['-l', hostProc], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(run, { recursive: true, force: true });
    cluster.close();
  };
  try {
    mounts.push(await mountFuse(controlMount, control.ops(), { ...cache, extra: ['direct_io', 'big_writes'] }));
    // max_readahead=0: reads are synchronous requests, so a blocked `wait` read never holds
    // one of the kernel's few background request slots (see native-notes/caching.md).
    mounts.push(await mountFuse(mountPoint, view.ops(), { ...cache, extra: ['max_readahead=0', 'big_writes'] }));
  } catch (err) {
    await close();
    throw err;
  }
  opts.log.info({ mountPoint, control: controlMount, nodes: opts.config.nodes.length }, 'cluster view mounted');
  return { mountPoint, cluster, view, close };
}
