/**
 * The only place that talks to fuse-native: mounting with the options gproc needs and
 * unmounting. fuse-native builds its `-o` string from a fixed set of options; libfuse 2
 * accepts more (direct_io, negative_timeout, max_readahead, big_writes), which a subclass
 * appends. fuse-native's own per-operation timeout (15 s) is turned off: every remote call
 * has its own deadline, and `wait`/`events` reads block on purpose.
 */
import Fuse from 'fuse-native';

/** fuse-native operation callbacks (a subset of its API, typed loosely as it is untyped). */
export type FuseOps = Record<string, (...args: any[]) => void>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface MountOptions {
  /** Kernel entry and attribute cache, seconds. */
  cacheSeconds: number;
  /** Extra libfuse options ("direct_io", "max_readahead=0"...). */
  extra: string[];
}

/** A mounted FUSE filesystem. */
export interface FuseMount {
  readonly mountPoint: string;
  unmount(): Promise<void>;
}

/**
 * Mounts `ops` at `mountPoint` (created if missing). A stale mount left by a daemon that
 * died ("Transport endpoint is not connected") is cleared first.
 * @throws when the mount point is in use by a live filesystem or FUSE is unavailable.
 */
export function mountFuse(mountPoint: string, ops: FuseOps, opts: MountOptions): Promise<FuseMount> {
  const extra = opts.extra.concat(`negative_timeout=${opts.cacheSeconds}`);
  class GprocFuse extends Fuse {
    override _fuseOptions(): string {
      return `${super._fuseOptions()},${extra.join(',')}`;
    }
  }
  const fuse = new GprocFuse(mountPoint, ops, {
    timeout: false,
    force: true,
    mkdir: true,
    allowOther: true,
    defaultPermissions: true,
    fsname: 'gproc',
    subtype: 'gproc',
    entryTimeout: opts.cacheSeconds,
    attrTimeout: opts.cacheSeconds,
  });
  return new Promise((resolve, reject) => {
    fuse.mount((err?: Error) => {
      if (err) return reject(new Error(`cannot mount ${mountPoint}: ${err.message}`));
      resolve({
        mountPoint,
        unmount: () => new Promise<void>((done) => fuse.unmount(() => done())),
      });
    });
  });
}

/** errno constants as fuse-native wants them (negative). */
export const FuseErrno = Fuse;
