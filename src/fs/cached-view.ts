/**
 * The cluster view at the mount point (/cluster/proc): the FUSE operations over the
 * routing table, built for few requests per process (see native-notes/caching.md).
 *
 * - open answers ENOSYS once, which puts the kernel in "no open" mode: opens and releases
 *   no longer reach the daemon and file pages stay cached between opens;
 * - getattr renders a file and pins it (PinnedContent), reporting the size that keeps the
 *   kernel's pages right; read serves the pinned bytes at any offset;
 * - entries, attributes and failed lookups are cached by the kernel for
 *   `defaults.kernelCacheSeconds`, the lifetime of one merged table.
 * So `ps` reading a process whose files did not change since the last refresh costs no
 * request at all, and one getattr per file after a refresh.
 *
 * The files that need an open handle (nodes/<id>/spawn, events, <gpid>/ctl, <gpid>/wait)
 * are links into the control view.
 */
import type { ClusterTable } from '../cluster/table';
import { defaults } from '../defaults';
import { E, FsError, toErrno } from './errno';
import { IMMUTABLE_TREE, type FuseOps } from './fuse';
import { PinnedContent } from './pinned';
import { gpidOfPath, resolvePath, type Attr, type Resolved, type TreeContext } from './tree';

type Cb = (...args: unknown[]) => void;

/** What the view needs: a path's context without the table, which it takes per request. */
export type ViewDeps = Omit<TreeContext, 'table' | 'memo'>;

/** FUSE requests served, by operation (reported by `make bench`). */
export type RequestCounts = Record<string, number>;

/** The kernel-cached cluster view: the fuse-native operations of the main mount (spec section 3). */
export class CachedView {
  readonly counts: RequestCounts = {};
  private readonly pins = new PinnedContent();
  private ctx: TreeContext | undefined;
  private lastMissRefreshMs = 0;

  constructor(private readonly deps: ViewDeps) {}

  /** The fuse-native operations. */
  ops(): FuseOps {
    return {
      ...IMMUTABLE_TREE,
      getattr: (path: string, cb: Cb) =>
        this.serve(
          'getattr',
          path,
          cb,
          (ctx) => this.getattr(path, ctx),
          (st) => cb(0, st),
        ),
      readdir: (path: string, cb: Cb) =>
        this.serve(
          'readdir',
          path,
          cb,
          (ctx) => this.resolve(path, ctx, 'dir').entries(),
          (names) => cb(0, names),
        ),
      readlink: (path: string, cb: Cb) =>
        this.serve(
          'readlink',
          path,
          cb,
          (ctx) => this.resolve(path, ctx, 'link').target(),
          (target) => cb(0, target),
        ),
      open: (_path: string, _flags: number, cb: Cb) => {
        this.count('open');
        cb(-E.ENOSYS); // "no open" from now on: see the module comment
      },
      read: (path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
        this.serve(
          'read',
          path,
          cb,
          (ctx) => this.content(path, ctx),
          (data) => cb(copyOut(data, buf, len, pos)),
        ),
      write: (path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
        const data = Buffer.from(buf.subarray(0, len)); // the kernel's buffer is gone after this call
        this.serve(
          'write',
          path,
          cb,
          (ctx) => this.write(path, ctx, data, pos),
          () => cb(len),
          'ESRCH',
        );
      },
      // `echo X > ctl` opens with O_TRUNC; truncating a file of /proc is accepted and means
      // nothing (the kernel has checked the caller's right to write already).
      truncate: (path: string, _size: number, cb: Cb) =>
        this.serve(
          'truncate',
          path,
          cb,
          (ctx) => this.resolve(path, ctx, 'file'),
          () => cb(0),
        ),
    };
  }

  /** Runs an operation against a table fresh enough to serve it, mapping errors to errno. */
  private serve<T>(
    op: string,
    path: string,
    cb: Cb,
    fn: (ctx: TreeContext) => T | Promise<T>,
    ok: (v: T) => void,
    notFound: 'ENOENT' | 'ESRCH' = 'ENOENT',
  ): void {
    this.count(op);
    const fail = (err: unknown) => {
      const errno = toErrno(err, notFound);
      if (errno === -E.EIO)
        this.deps.log.warn({ op, err: (err as Error)?.message }, 'request failed');
      cb(errno);
    };
    const run = (table: ClusterTable, retried = false) => {
      const failOrRetry = (err: unknown) => {
        if (
          !retried &&
          err instanceof FsError &&
          err.errno === E.ENOENT &&
          this.retryOnMiss(path, table)
        ) {
          this.deps.cluster.sync().then((t) => run(t, true), fail);
        } else fail(err);
      };
      try {
        const v = fn(this.context(table));
        if (v instanceof Promise) v.then(ok, failOrRetry);
        else ok(v);
      } catch (err) {
        failOrRetry(err);
      }
    };
    const table = this.deps.cluster.fresh();
    if (table) run(table);
    else this.deps.cluster.refresh().then(run, fail);
  }

  /**
   * A lookup of a gpid the table does not know may name a process that started (or ended,
   * with its status held) after its node's replica was last updated, which can be up to a
   * watch interval before the table was built: look again in a table built after every
   * replica was asked (Cluster.sync), unless this table is one, asked less than
   * `defaults.missRefreshMs` ago; at most once per `defaults.missRefreshEveryMs` (the kernel
   * caches the answer for a second either way).
   */
  private retryOnMiss(path: string, table: ClusterTable): boolean {
    const gpid = gpidOfPath(path);
    const now = Date.now();
    if (gpid === undefined || table.processes.has(gpid)) return false;
    const askedAgo = this.deps.cluster.askedAgoMs(table);
    if (
      (askedAgo !== undefined && askedAgo < defaults.missRefreshMs) ||
      now - this.lastMissRefreshMs < defaults.missRefreshEveryMs
    )
      return false;
    this.lastMissRefreshMs = now;
    return true;
  }

  private count(op: string): void {
    this.counts[op] = (this.counts[op] ?? 0) + 1;
  }

  /** The context of paths under `table`: made once per refresh, when stale pins go too. */
  private context(table: ClusterTable): TreeContext {
    if (this.ctx?.table !== table) {
      this.ctx = { ...this.deps, table, memo: new Map() };
      this.pins.prune((path) => keepPin(path, table));
    }
    return this.ctx;
  }

  /** Resolves a path (of the type `want`, if given). */
  private resolve<T extends Resolved['type']>(
    path: string,
    ctx: TreeContext,
    want?: T,
  ): Extract<Resolved, { type: T }> {
    const r = resolvePath(path, ctx);
    if (want && r.type !== want) {
      throw new FsError(want === 'dir' ? E.ENOTDIR : E.EINVAL, `${path} is not a ${want}`);
    }
    return r as Extract<Resolved, { type: T }>;
  }

  private getattr(path: string, ctx: TreeContext): StatLike | Promise<StatLike> {
    const r = this.resolve(path, ctx);
    if (r.type === 'dir') return stat(r.attr, 0, 2);
    if (r.type === 'link') {
      // A link the owning agent reads (exe, fd/<n>): Linux's size, and no call unless its
      // existence must be checked (fd/<n>), so that `ls -l <gpid>/` costs none for exe.
      const { remote } = r;
      if (!remote) return stat(r.attr, Buffer.byteLength(r.target() as string), 1);
      if (!remote.checked) return stat(r.attr, remote.size, 1);
      return Promise.resolve(r.target()).then(() => stat(r.attr, remote.size, 1));
    }
    const { read, blocking } = r.file;
    // A write-only file (ctl) reports a size, so that a read reaches the daemon and fails
    // with EINVAL as on Linux; with size 0 the kernel would answer end-of-file itself.
    if (!read) return stat(r.attr, defaults.unknownSizeBytes, 1);
    if (blocking) return stat(r.attr, this.pins.reported(path) ?? defaults.unknownSizeBytes, 1);
    // A file that cannot be rendered now (io of a process the agent may not trace) still
    // exists, as in /proc: its read reports the error.
    const unrenderable = (err: unknown) => {
      const errno = toErrno(err);
      if (errno === -E.ENOENT || errno === -E.EHOSTDOWN) throw err;
      return stat(r.attr, defaults.unknownSizeBytes, 1);
    };
    try {
      const content = read();
      if (content instanceof Promise)
        return content.then((c) => stat(r.attr, this.pins.pin(path, c), 1), unrenderable);
      return stat(r.attr, this.pins.pin(path, content), 1);
    } catch (err) {
      return unrenderable(err);
    }
  }

  /** What a read of `path` returns: the pinned content, else rendered (or waited for) now. */
  private content(path: string, ctx: TreeContext): Buffer | Promise<Buffer> {
    const pinned = this.pins.read(path);
    if (pinned) return pinned;
    const r = this.resolve(path, ctx, 'file');
    if (!r.file.read) throw new FsError(E.EINVAL, `${path} is write-only`);
    const pinRead = (c: Buffer) => {
      this.pins.pin(path, c);
      return this.pins.read(path)!;
    };
    const c = r.file.read();
    return c instanceof Promise ? c.then(pinRead) : pinRead(c);
  }

  private write(path: string, ctx: TreeContext, data: Buffer, offset: number): Promise<void> {
    let r: Extract<Resolved, { type: 'file' }>;
    try {
      r = this.resolve(path, ctx, 'file');
    } catch (err) {
      // The kernel still had the entry, but the process has ended: a signal finds no process.
      if (err instanceof FsError && err.errno === E.ENOENT)
        throw new FsError(E.ESRCH, `${path}: process gone`);
      throw err;
    }
    if (!r.file.write) throw new FsError(E.EACCES, `${path} is read-only`);
    return r.file.write(data, offset);
  }
}

/** A pinned path stays while its process is in the table (or its exit status is held). */
function keepPin(path: string, table: ClusterTable): boolean {
  const gpid = gpidOfPath(path);
  return gpid === undefined || table.processes.has(gpid) || table.ended.has(gpid);
}

interface StatLike {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  mtime: number;
  atime: number;
  ctime: number;
}

function stat(attr: Attr, size: number, nlink: number): StatLike {
  return {
    mode: attr.mode,
    uid: attr.uid,
    gid: attr.gid,
    size,
    nlink,
    mtime: attr.mtimeMs,
    atime: attr.mtimeMs,
    ctime: attr.mtimeMs,
  };
}

/** Copies `data[pos, pos+len)` into the kernel's buffer; the count copied (0 at EOF). */
function copyOut(data: Buffer, buf: Buffer, len: number, pos: number): number {
  if (pos >= data.length) return 0;
  return data.copy(buf, 0, pos, Math.min(data.length, pos + len));
}
