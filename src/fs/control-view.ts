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

/** An open spawn file: the unterminated rest of what was written, and the answers to read. */
interface SpawnHandle {
  kind: 'spawn';
  node: number;
  pending: string;
  /** Dropping the rest of a refused (too long) line, up to its newline. */
  discarding: boolean;
  answers: Buffer;
}

type Handle = SpawnHandle | { kind: 'events'; cursor: number };

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
        if (c.kind === 'spawn') this.handles.set(fh, { kind: 'spawn', node: c.node!, pending: '', discarding: false, answers: Buffer.alloc(0) });
        else this.handles.set(fh, { kind: 'events', cursor: this.events.subscribe() });
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
      read: (_path: string, fh: number, buf: Buffer, len: number, _pos: number, cb: Cb) => {
        const h = this.handles.get(fh);
        if (!h) return cb(-E.EBADF);
        const answer = (data: Buffer) => cb(data.copy(buf, 0, 0, Math.min(len, data.length)));
        if (h.kind === 'events') {
          this.events.next(h.cursor, len).then(({ text, cursor }) => {
            h.cursor = cursor;
            answer(Buffer.from(text, 'latin1'));
          });
          return;
        }
        this.flush(h).then(
          () => {
            const out = h.answers.subarray(0, len);
            h.answers = h.answers.subarray(out.length);
            answer(out);
          },
          (err) => cb(toErrno(err)),
        );
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
        uid: 0,
        gid: 0,
      });
      this.log.info({ node: h.node, pid: reply.pid, command: line }, 'spawned through the spawn file');
      this.cluster.invalidate(); // so that this mount lists the new process at once
      h.answers = Buffer.concat([h.answers, Buffer.from(`${encodeGpid(h.node, reply.pid)}\n`)]);
    }
  }

}
