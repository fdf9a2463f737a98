/**
 * The control view: the files of the cluster view that need a handle per open, served with
 * direct I/O from a second, small mount (the cluster view links to it):
 *
 * - nodes/<id>/spawn (spec section 5): open read-write, write a command line, read back
 *   the new gpid and a newline. Each complete line written starts `/bin/sh -c LINE` on
 *   that node; the write returns when the agent has started it (EINVAL for an empty line,
 *   EHOSTDOWN when the node does not answer). The read returns the handle's answers in
 *   order, whatever offset it is given (the write moved the shared offset past the line).
 *   The file is 0600 root: the agent runs the command as root, and FUSE does not tell who
 *   the caller is, so only root may use it (others use `gproc run`).
 * - events: each open reads the cluster's process events from the moment it opened; a
 *   read blocks until there is one.
 */
import { constants } from 'node:fs';
import type { Cluster } from '../cluster/cluster';
import { EventHub } from '../cluster/events';
import { defaults } from '../defaults';
import { encodeGpid } from '../gpid';
import type { Logger } from '../log';
import { E, FsError, toErrno } from './errno';
import { IMMUTABLE_TREE, type FuseOps } from './fuse';

type Cb = (...args: unknown[]) => void;

/**
 * What a handle has produced for its reader. Reads of any size see every byte once, and a
 * reader may seek back into what its last read returned: bash's `read` reads a chunk, then
 * seeks back to just after the line it used. Offsets are relative to the last read, not
 * absolute: on a spawn file opened read-write, writes move the file position too.
 */
class ReadBuffer {
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

  /** Up to `len` bytes for the read placed by `seek`. */
  take(len: number): Buffer {
    const out = this.data.subarray(0, len);
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

type Handle = SpawnHandle | EventsHandle;

/** Bytes of events taken from the hub at once (whole lines; a read gets them in pieces). */
const EVENTS_CHUNK = 64 * 1024;

/** Longest command line the spawn file takes, in characters of the UTF-8-decoded write. */
const MAX_LINE = 64 * 1024;

const { S_IFDIR, S_IFREG } = constants;

/** Paths of the control view: the directories leading to the control files, and the files. */
function classify(path: string): { kind: 'dir' | 'spawn' | 'events'; node?: number } | undefined {
  if (path === '/' || path === '/nodes') return { kind: 'dir' };
  if (path === '/events') return { kind: 'events' };
  const m = /^\/nodes\/([1-9]\d{0,2})(\/spawn)?$/.exec(path);
  if (!m) return undefined;
  return { kind: m[2] ? 'spawn' : 'dir', node: Number(m[1]) };
}

/** The direct-I/O control view: spawn and events files with an answer per open handle (spec section 5). */
export class ControlView {
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private readonly events: EventHub;

  constructor(
    private readonly cluster: Cluster,
    private readonly log: Logger,
  ) {
    this.events = new EventHub(cluster, log);
  }

  ops(): FuseOps {
    const now = Date.now();
    const attr = (mode: number) => ({ mode, uid: 0, gid: 0, size: 0, nlink: 1, mtime: now, atime: now, ctime: now });
    return {
      ...IMMUTABLE_TREE,
      getattr: (path: string, cb: Cb) => {
        const c = this.known(path);
        if (!c) return cb(-E.ENOENT);
        cb(0, attr(c.kind === 'dir' ? S_IFDIR | 0o555 : c.kind === 'spawn' ? S_IFREG | 0o600 : S_IFREG | 0o444));
      },
      readdir: (path: string, cb: Cb) => {
        if (path === '/') return cb(0, ['nodes', 'events']);
        if (path === '/nodes') return cb(0, this.cluster.config.nodes.map((n) => String(n.id)));
        if (this.known(path)?.kind === 'dir') return cb(0, ['spawn']);
        cb(-E.ENOENT);
      },
      open: (path: string, _flags: number, cb: Cb) => {
        const c = this.known(path);
        if (!c || c.kind === 'dir') return cb(-E.ENOENT);
        const fh = this.nextHandle++;
        const out = new ReadBuffer();
        if (c.kind === 'spawn') this.handles.set(fh, { kind: 'spawn', node: c.node!, pending: '', discarding: false, out });
        else this.handles.set(fh, { kind: 'events', cursor: this.events.subscribe(), out });
        cb(0, fh);
      },
      release: (_path: string, fh: number, cb: Cb) => {
        if (this.handles.get(fh)?.kind === 'events') this.events.unsubscribe();
        this.handles.delete(fh);
        cb(0);
      },
      write: (_path: string, fh: number, buf: Buffer, len: number, _pos: number, cb: Cb) => {
        const h = this.handles.get(fh);
        if (h?.kind !== 'spawn') return cb(-E.EBADF);
        this.takeWrite(h, buf.subarray(0, len).toString()).then(
          () => cb(len),
          (err) => cb(toErrno(err)),
        );
      },
      read: (_path: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
        const h = this.handles.get(fh);
        if (!h) return cb(-E.EBADF);
        const serve = () => cb(h.out.take(len).copy(buf));
        if (h.out.seek(pos)) return serve();
        // Past what was produced: events wait for the next lines; spawn starts an unterminated
        // line first (and reads as end-of-file when nothing is left).
        const more =
          h.kind === 'events'
            ? this.events.next(h.cursor, EVENTS_CHUNK).then(({ text, cursor }) => {
                h.cursor = cursor;
                h.out.append(Buffer.from(text, 'latin1'));
              })
            : this.flush(h);
        more.then(serve, (err) => cb(toErrno(err)));
      },
      truncate: (_path: string, _size: number, cb: Cb) => cb(0),
    };
  }

  /** Ends the event streams (the mount is going away). */
  close(): void {
    this.events.close();
  }

  private known(path: string) {
    const c = classify(path);
    if (c?.node !== undefined && !this.cluster.clients.has(c.node)) return undefined;
    return c;
  }

  /**
   * Takes one write to a spawn handle: the complete lines it finishes are checked first and
   * started only if every one is good (a write is all or nothing); an unterminated rest is
   * kept for the next write (or started by a read). A line longer than `MAX_LINE` is
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
    if (rest.length > MAX_LINE) {
      h.pending = '';
      h.discarding = true;
      throw new FsError(E.EINVAL, `a spawn line is at most ${MAX_LINE} characters`);
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
      if (line.trim() === '' || line.includes('\0') || line.length > MAX_LINE) throw new FsError(E.EINVAL, 'empty or malformed command line');
    }
    if (lines.length && this.cluster.isDown(h.node)) throw new FsError(E.EHOSTDOWN, `node ${h.node} is down`);
    for (const line of lines) {
      const reply = await this.cluster.clients.get(h.node)!.spawn({
        shellCommand: line,
        env: [`PATH=${defaults.spawnPath}`, 'HOME=/root'],
        cwd: '/',
      }); // as root: the spawn file is root's alone (mode 0600), FUSE does not say who wrote
      this.log.info({ node: h.node, pid: reply.pid, command: line }, 'spawned through the spawn file');
      this.cluster.invalidate(); // so that this mount lists the new process at once
      h.out.append(Buffer.from(`${encodeGpid(h.node, reply.pid)}\n`));
    }
  }

}
