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
import type { Cluster } from '../cluster/cluster';
import { EventHub } from '../cluster/events';
import { defaults } from '../defaults';
import { encodeGpid } from '../gpid';
import type { Logger } from '../log';
import { E, FsError, toErrno } from './errno';
import type { FuseOps } from './fuse';

type Cb = (...args: unknown[]) => void;

type Handle =
  | { kind: 'spawn'; node: number; pending: string; answers: Buffer }
  | { kind: 'events'; cursor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** Paths of the control view: the directories leading to the control files, and the files. */
function classify(path: string): { kind: 'dir' | 'spawn' | 'events'; node?: number } | undefined {
  if (path === '/' || path === '/nodes') return { kind: 'dir' };
  if (path === '/events') return { kind: 'events' };
  const m = /^\/nodes\/(\d+)(\/spawn)?$/.exec(path);
  if (!m) return undefined;
  return { kind: m[2] ? 'spawn' : 'dir', node: Number(m[1]) };
}

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
        if (c.kind === 'spawn') this.handles.set(fh, { kind: 'spawn', node: c.node!, pending: '', answers: Buffer.alloc(0) });
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
        h.pending += buf.subarray(0, len).toString();
        this.spawnLines(h, false).then(
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
        this.spawnLines(h, true).then(
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

  private known(path: string) {
    const c = classify(path);
    if (c?.node !== undefined && !this.cluster.clients.has(c.node)) return undefined;
    return c;
  }

  /** Starts every complete line written so far (and, before a read, an unterminated one). */
  private async spawnLines(h: Extract<Handle, { kind: 'spawn' }>, flush: boolean): Promise<void> {
    for (;;) {
      const nl = h.pending.indexOf('\n');
      if (nl < 0 && !(flush && h.pending !== '')) return;
      const line = nl < 0 ? h.pending : h.pending.slice(0, nl);
      h.pending = nl < 0 ? '' : h.pending.slice(nl + 1);
      if (line.trim() === '' || line.includes('\0')) throw new FsError(E.EINVAL, 'empty or malformed command line');
      if (this.cluster.isDown(h.node)) throw new FsError(E.EHOSTDOWN, `node ${h.node} is down`);
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
