/**
 * The control view: the files of the cluster view that need a handle per open, served with
 * direct I/O from a second, small mount (the cluster view links to it; paths and owners
 * come from the routing table, tree.ts `resolveControlPath`):
 *
 * - nodes/<id>/spawn (spec section 5): open read-write, write a command line, read back
 *   the new gpid and a newline. Each complete line written starts `/bin/sh -c LINE` on
 *   that node; the write returns when the agent has started it (EINVAL for an empty line,
 *   EHOSTDOWN when the node does not answer). The read returns the handle's answers in
 *   order, whatever offset it is given (the write moved the shared offset past the line).
 *   The file is 0600 root: the agent runs the command as root, and FUSE does not tell who
 *   the caller is, so only root may use it (others use `gproc run`).
 * - events: each open reads the cluster's process events from the moment it opened; a
 *   read blocks until there is one. A read returns whole lines only, as many as fit, unless
 *   a line alone is longer than the read: then it comes in pieces, the last of which ends at
 *   its newline. So a reader never gets the start of a line it did not ask for.
 * - processes/<gpid>-<start time>/{ctl,wait} (spec sections 4 and 5): an open binds the
 *   process (process-handle.ts); writes to ctl signal that process and no other (ESRCH once
 *   it ended), a read of wait answers for it (`exited N`...), once per handle, at any offset.
 */
import type { Cluster } from '../cluster/cluster';
import { EventHub } from '../cluster/events';
import { defaults } from '../defaults';
import { encodeGpid } from '../gpid';
import type { Logger } from '../log';
import { E, FsError, toErrno } from './errno';
import { IMMUTABLE_TREE, type FuseOps } from './fuse';
import { signalThrough, waitThrough, type BoundProcess } from './process-handle';
import { resolveControlPath, type ControlContext, type ControlEntry } from './tree';

type Cb = (...args: unknown[]) => void;

/**
 * What a handle has produced for its reader. Reads of any size see every byte once, and a
 * reader may seek back into what its last read returned: bash's `read` reads a chunk, then
 * seeks back to just after the line it used. Offsets are relative to the last read, not
 * absolute: on a spawn file opened read-write, writes move the file position too.
 * A read ends at the end of a line (see the module comment).
 */
export class ReadBuffer {
  /** File offset of data[0]: where the last read started. */
  private pos = 0;
  private data = Buffer.alloc(0);
  /** Bytes of data that the last read returned. */
  private served = 0;

  /**
   * Places the next read at file offset `pos`: inside the last read's bytes, it reads them
   * again from there; anywhere else, it goes on after them.
   * @returns true when there are bytes to read without waiting for more.
   */
  seek(pos: number): boolean {
    const back = pos >= this.pos && pos < this.pos + this.served;
    this.data = this.data.subarray(back ? pos - this.pos : this.served);
    this.pos = pos;
    this.served = 0;
    return this.data.length > 0;
  }

  append(bytes: Buffer): void {
    if (bytes.length) this.data = Buffer.concat([this.data, bytes]);
  }

  /** Bytes held and not yet read. */
  get length(): number {
    return this.data.length;
  }

  /**
   * The bytes for the read placed by `seek`: as many whole lines as fit in `len`; when not
   * even the first fits, its first `len` bytes; an unterminated rest only when it is all
   * there is.
   */
  take(len: number): Buffer {
    let out = this.data.subarray(0, len);
    if (out.length < this.data.length) {
      const end = out.lastIndexOf(0x0a);
      if (end >= 0) out = out.subarray(0, end + 1);
    }
    this.served = out.length;
    return out;
  }
}

/** An open spawn file: the unterminated rest of what was written, and the gpids to read. */
interface SpawnHandle {
  kind: 'spawn';
  node: number;
  pending: string;
  /** Dropping the rest of a refused (too long) line, up to its newline. */
  discarding: boolean;
  out: ReadBuffer;
}

/** An open events file: where it is in the cluster's events, and the lines to read. */
interface EventsHandle {
  kind: 'events';
  cursor: number;
  out: ReadBuffer;
}

/** An open ctl file: the process it was opened on. */
interface CtlHandle {
  kind: 'ctl';
  process: BoundProcess;
}

/** An open wait file: the process it was opened on, and its answer once asked. */
interface WaitHandle {
  kind: 'wait';
  process: BoundProcess;
  answer?: Promise<Buffer>;
}

type Handle = SpawnHandle | EventsHandle | CtlHandle | WaitHandle;

/** The direct-I/O control view: files with an answer per open handle (spec sections 4 and 5). */
export class ControlView {
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private readonly events: EventHub;
  private readonly paths: ControlContext;
  private readonly mountedAtMs = Date.now();

  constructor(
    private readonly cluster: Cluster,
    private readonly log: Logger,
  ) {
    this.events = new EventHub(cluster, log);
    this.paths = { cluster, table: () => cluster.fresh() ?? cluster.refresh() };
  }

  ops(): FuseOps {
    return {
      ...IMMUTABLE_TREE,
      getattr: (path: string, cb: Cb) =>
        this.resolve(path, cb, (c) => {
          const t = c.attr.mtimeMs || this.mountedAtMs;
          cb(0, {
            mode: c.attr.mode,
            uid: c.attr.uid,
            gid: c.attr.gid,
            size: 0,
            nlink: c.kind === 'dir' ? 2 : 1,
            mtime: t,
            atime: t,
            ctime: t,
          });
        }),
      readdir: (path: string, cb: Cb) =>
        this.resolve(path, cb, (c) => (c.kind === 'dir' ? cb(0, c.entries()) : cb(-E.ENOTDIR))),
      open: (path: string, _flags: number, cb: Cb) =>
        this.resolve(path, cb, (c) => {
          if (c.kind === 'dir') return cb(-E.EISDIR);
          const fh = this.nextHandle++;
          this.handles.set(fh, this.handleFor(c));
          cb(0, fh);
        }),
      release: (_path: string, fh: number, cb: Cb) => {
        if (this.handles.get(fh)?.kind === 'events') this.events.unsubscribe();
        this.handles.delete(fh);
        cb(0);
      },
      write: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
        const h = this.handles.get(fh);
        const data = Buffer.from(buf.subarray(0, len)); // the kernel's buffer is gone after this call
        let done: Promise<void>;
        if (h?.kind === 'spawn') done = this.takeWrite(h, data.toString());
        else if (h?.kind === 'ctl')
          done = signalThrough(this.cluster, h.process, data, pos, this.log);
        else return cb(-E.EBADF);
        done.then(
          () => cb(len),
          (err) => cb(this.errno(err, 'write', 'ESRCH')),
        );
      },
      read: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
        const h = this.handles.get(fh);
        if (!h) return cb(-E.EBADF);
        // Root may open ctl for reading (the kernel checks others): EINVAL, as Linux answers
        // a read of a write-only file of /proc.
        if (h.kind === 'ctl') return cb(-E.EINVAL);
        if (h.kind === 'wait') return this.readWait(h, buf, len, pos, cb);
        const out = h.out;
        const serve = () => cb(out.take(len).copy(buf));
        if (out.seek(pos)) return serve();
        // Past what was produced: events wait for the next lines; spawn starts an unterminated
        // line first (and reads as end-of-file when nothing is left).
        const more =
          h.kind === 'events'
            ? this.events.next(h.cursor, defaults.eventsHandleBytes).then(({ text, cursor }) => {
                h.cursor = cursor;
                out.append(Buffer.from(text, 'latin1'));
              })
            : this.flush(h);
        more.then(serve, (err) => cb(this.errno(err, 'read')));
      },
      // `echo X > ctl` opens with O_TRUNC: accepted, and means nothing.
      truncate: (_path: string, _size: number, cb: Cb) => cb(0),
    };
  }

  /** Resolves `path` through the routing table and hands the entry to `ok`, or fails `cb`. */
  private resolve(path: string, cb: Cb, ok: (c: ControlEntry) => void): void {
    const fail = (err: unknown) => cb(this.errno(err, 'lookup'));
    try {
      const c = resolveControlPath(path, this.paths);
      if (c instanceof Promise) c.then(ok, fail);
      else ok(c);
    } catch (err) {
      fail(err);
    }
  }

  private handleFor(c: Exclude<ControlEntry, { kind: 'dir' }>): Handle {
    switch (c.kind) {
      case 'spawn':
        return {
          kind: 'spawn',
          node: c.node,
          pending: '',
          discarding: false,
          out: new ReadBuffer(),
        };
      case 'events':
        return { kind: 'events', cursor: this.events.subscribe(), out: new ReadBuffer() };
      case 'ctl':
        return { kind: 'ctl', process: c.process };
      case 'wait':
        return { kind: 'wait', process: c.process };
    }
  }

  private errno(err: unknown, op: string, notFound: 'ENOENT' | 'ESRCH' = 'ENOENT'): number {
    const errno = toErrno(err, notFound);
    if (errno === -E.EIO)
      this.log.warn({ op, err: (err as Error)?.message }, 'control request failed');
    return errno;
  }

  /** Ends the event streams (the mount is going away). */
  close(): void {
    this.events.close();
  }

  /** A read of a wait handle: its one answer (asked for at the first read), at `pos`. */
  private readWait(h: WaitHandle, buf: Buffer, len: number, pos: number, cb: Cb): void {
    h.answer ??= waitThrough(this.cluster, h.process);
    h.answer.then(
      (answer) =>
        cb(pos >= answer.length ? 0 : answer.copy(buf, 0, pos, Math.min(answer.length, pos + len))),
      (err) => {
        h.answer = undefined; // a node that did not answer may answer the next read
        cb(this.errno(err, 'read'));
      },
    );
  }

  /**
   * Takes one write to a spawn handle: the complete lines it finishes are checked first and
   * started only if every one is good (a write is all or nothing); an unterminated rest is
   * kept for the next write (or started by a read). A line longer than `defaults.spawnLineChars` is
   * refused, and what follows of it is dropped up to its newline, so that the tail of a
   * refused line never runs on its own.
   * @throws FsError EINVAL (empty, NUL, too long), EHOSTDOWN (the node is down), or the
   *   agent's refusal; nothing of this write is kept then.
   */
  private async takeWrite(h: SpawnHandle, data: string): Promise<void> {
    if (h.discarding) {
      const nl = data.indexOf('\n');
      if (nl < 0) throw new FsError(E.EINVAL, 'the rest of a refused line');
      h.discarding = false;
      data = data.slice(nl + 1);
    }
    const text = h.pending + data;
    const lines = text.split('\n');
    const rest = lines.pop()!;
    if (rest.length > defaults.spawnLineChars) {
      h.pending = '';
      h.discarding = true;
      throw new FsError(E.EINVAL, `a spawn line is at most ${defaults.spawnLineChars} characters`);
    }
    h.pending = '';
    await this.start(h, lines);
    h.pending = rest;
  }

  /** Starts an unterminated line left on the handle (before a read answers). */
  private async flush(h: SpawnHandle): Promise<void> {
    const line = h.pending;
    h.pending = '';
    if (line !== '') await this.start(h, [line]);
  }

  private async start(h: SpawnHandle, lines: string[]): Promise<void> {
    for (const line of lines) {
      if (line.trim() === '' || line.includes('\0') || line.length > defaults.spawnLineChars)
        throw new FsError(E.EINVAL, 'empty or malformed command line');
    }
    if (lines.length && this.cluster.isDown(h.node))
      throw new FsError(E.EHOSTDOWN, `node ${h.node} is down`);
    for (const line of lines) {
      const reply = await this.cluster.clients.get(h.node)!.spawn({
        shellCommand: line,
        env: [`PATH=${defaults.spawnPath}`, 'HOME=/root'],
        cwd: '/',
      }); // as root: the spawn file is root's alone (mode 0600), FUSE does not say who wrote
      this.log.info(
        { node: h.node, pid: reply.pid, command: line },
        'spawned through the spawn file',
      );
      this.cluster.invalidate(); // so that this mount lists the new process at once
      h.out.append(Buffer.from(`${encodeGpid(h.node, reply.pid)}\n`));
    }
  }
}
