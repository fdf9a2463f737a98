/**
 * The only place that talks to fuse-native: mounting with the options gproc needs and
 * unmounting. fuse-native builds its `-o` string from a fixed set of options; libfuse 2
 * accepts more (direct_io, negative_timeout, max_readahead, big_writes), which a subclass
 * appends. fuse-native's own per-operation timeout (15 s) is turned off: every remote call
 * has its own deadline, and `wait`/`events` reads block on purpose.
 */
import Fuse from 'fuse-native';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaults } from '../defaults';
import { E } from './errno';

/** fuse-native operation callbacks (a subset of its API, typed loosely as it is untyped). */
export type FuseOps = Record<string, (...args: any[]) => void>; // eslint-disable-line @typescript-eslint/no-explicit-any

type Cb = (err: number) => void;

/**
 * Answers to attempts at changing the tree, as Linux's /proc gives them: new names do not
 * exist (ENOENT), existing ones cannot be removed, renamed, linked or have their mode or
 * owner changed (EPERM), and times are accepted and ignored. Both views use them.
 */
export const IMMUTABLE_TREE: FuseOps = {
  mkdir: (_p: string, _mode: number, cb: Cb) => cb(-E.ENOENT),
  mknod: (_p: string, _mode: number, _dev: number, cb: Cb) => cb(-E.ENOENT),
  create: (_p: string, _mode: number, cb: Cb) => cb(-E.ENOENT),
  symlink: (_src: string, _dest: string, cb: Cb) => cb(-E.ENOENT),
  unlink: (_p: string, cb: Cb) => cb(-E.EPERM),
  rmdir: (_p: string, cb: Cb) => cb(-E.EPERM),
  rename: (_src: string, _dest: string, cb: Cb) => cb(-E.EPERM),
  link: (_src: string, _dest: string, cb: Cb) => cb(-E.EPERM),
  chmod: (_p: string, _mode: number, cb: Cb) => cb(-E.EPERM),
  chown: (_p: string, _uid: number, _gid: number, cb: Cb) => cb(-E.EPERM),
  utimens: (_p: string, _atime: number, _mtime: number, cb: Cb) => cb(0),
};

export interface MountOptions {
  /** Kernel entry and attribute cache, seconds. */
  cacheSeconds: number;
  /** Extra libfuse options ("direct_io", "max_readahead=0"...). */
  extra: string[];
  /**
   * The recorder of each operation's requests (metrics/mount.ts), asked once per operation
   * at mount: it is given each request's time from hand-over to answer, in seconds, and
   * whether the answer was an error number.
   */
  record?: (op: string) => (seconds: number, failed: boolean) => void;
}

/** A mounted FUSE filesystem. */
export interface FuseMount {
  readonly mountPoint: string;
  /**
   * Detaches the mount (`fusermount -uz`, as fuse-native does). Bounded: resolves true once
   * it is done, false after `defaults.mountCommandMs` if the command has not finished (a
   * daemon on its way out must not wait on one for ever; the next start clears what is left).
   */
  unmount(): Promise<boolean>;
}

/**
 * Mounts `ops` at `mountPoint` (created if missing). The caller clears stale mounts first
 * (stale-mount.ts): fuse-native's own `force` would stat a file under the old mount, which
 * blocks for ever when its daemon is frozen.
 * @throws when the mount point is in use or FUSE is unavailable.
 */
export function mountFuse(
  mountPoint: string,
  ops: FuseOps,
  opts: MountOptions,
): Promise<FuseMount> {
  const hotOps: FuseOps = {};
  for (const [name, fn] of Object.entries(ops)) {
    const record = opts.record?.(name);
    hotOps[name] = record
      ? (...args: unknown[]) => {
          // The clock is read once at the start (a read costs ~0.15 us in a VM), once at the end.
          const start = keepHot();
          // Every operation's callback is its last argument; its first argument is 0, a
          // byte count or a negative errno.
          const cb = args[args.length - 1] as (result: number, ...rest: unknown[]) => void;
          args[args.length - 1] = (result: number, ...rest: unknown[]) => {
            record((performance.now() - start) / 1000, result < 0);
            cb(result, ...rest);
          };
          fn(...args);
        }
      : (...args: unknown[]) => {
          keepHot();
          fn(...args);
        };
  }
  const fuse = fuseOf(mountPoint, hotOps, opts);
  return new Promise((resolve, reject) => {
    fuse.mount((err?: Error) => {
      if (err) return reject(new Error(`cannot mount ${mountPoint}: ${err.message}`));
      resolve({
        mountPoint,
        unmount: () =>
          Promise.race([
            new Promise<boolean>((done) => fuse.unmount(() => done(true))),
            sleep(defaults.mountCommandMs, false, { ref: false }),
          ]),
      });
    });
  });
}

/**
 * The libfuse `-o` string of a mount with `opts` (what fuse-native passes to fuse_mount and
 * fuse_new): `make bench` mounts its C floor daemon with the view's own.
 */
export function fuseOptionString(opts: MountOptions): string {
  return fuseOf('/nonexistent', {}, opts)._fuseOptions();
}

/** A fuse-native instance (not mounted) with gproc's options and `opts`'s. */
function fuseOf(mountPoint: string, ops: FuseOps, opts: MountOptions): Fuse {
  const extra = opts.extra.concat(`negative_timeout=${opts.cacheSeconds}`);
  class GprocFuse extends Fuse {
    override _fuseOptions(): string {
      return `${super._fuseOptions()},${extra.join(',')}`;
    }
  }
  return new GprocFuse(mountPoint, ops, {
    timeout: false,
    force: false,
    mkdir: true,
    allowOther: true,
    defaultPermissions: true,
    fsname: 'gproc',
    subtype: 'gproc',
    entryTimeout: opts.cacheSeconds,
    attrTimeout: opts.cacheSeconds,
  });
}

/**
 * How long the event loop keeps polling after a FUSE request, ms. fuse-native hands each
 * request from a libfuse thread to the JavaScript thread with uv_async_send; when that
 * thread sleeps, waking it costs tens of microseconds (a cross-CPU wake-up in a VM). While
 * requests keep coming (a ps run), a loop of setImmediate keeps it polling instead: one
 * request costs ~30 us instead of ~100 us here (native-notes/performance.md). It stops
 * `defaults.fuseHotMs` after the last request; with 0 (the default: on a loaded machine the
 * polling thread slows the reader more than it saves) it does not start.
 */
let lastRequest = 0;
let hot = false;

/** @returns the time of this request, `performance.now()` ms. */
function keepHot(): number {
  lastRequest = performance.now();
  if (!hot && defaults.fuseHotMs > 0) {
    hot = true;
    setImmediate(spin);
  }
  return lastRequest;
}

function spin(): void {
  if (performance.now() - lastRequest < defaults.fuseHotMs) setImmediate(spin);
  else hot = false;
}
