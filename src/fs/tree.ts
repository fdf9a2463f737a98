/**
 * The routing table of the cluster view (spec section 3): every directory, file and link,
 * their modes and owners, and what reading or writing them does. getattr, readdir, read,
 * write and readlink of the cluster view resolve paths through this one table; spawn and
 * events are links into the control view (control-view.ts), which serves those two.
 *
 *   /<gpid>/{stat,status,statm,cmdline,comm,environ,cgroup,io,ctl,wait,node,usage}
 *   /<gpid>/task/<gtid>/{stat,status,statm,comm,cmdline}
 *   /{stat,uptime,meminfo,loadavg,cpuinfo}  /sys/kernel/{pid_max,osrelease}
 *   /nodes/<id>/{name,address,state,uptime,meminfo,loadavg,spawn}  /events  /self
 *   /<local pid> and any other top-level name of the real /proc: links into it, unlisted
 */
import { constants, existsSync } from 'node:fs';
import type { Cluster } from '../cluster/cluster';
import { signalGroup, signalProcess } from '../cluster/signal';
import type { ActAs } from '../cluster/transport';
import { hasThread, threadIds, type ClusterTable, type EndedEntry, type NodeEntry, type ProcessEntry } from '../cluster/table';
import { decodeGpid, encodeGpid, PID_LIMIT } from '../gpid';
import type { Logger } from '../log';
import { parseCtl } from './ctl';
import { E, FsError } from './errno';
import * as render from './render';

/** Owner, permission bits and times of an entry. */
export interface Attr {
  /** File type and permission bits (S_IFDIR | 0o555 ...). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

/** What a path resolves to. */
export type Resolved =
  | { type: 'dir'; attr: Attr; entries: () => string[] }
  | { type: 'link'; attr: Attr; target: string }
  | { type: 'file'; attr: Attr; file: FileOps };

/** What a file does. */
export interface FileOps {
  /** Renders the content (rendered once per refresh and pinned by the view). */
  read?: () => Buffer | Promise<Buffer>;
  /** The content is not known until the read returns (wait): getattr cannot size it. */
  blocking?: boolean;
  /** Handles a write at `offset`; resolves when the operation is done. */
  write?: (data: Buffer, offset: number) => Promise<void>;
}

/** Everything a path needs to resolve. */
export interface TreeContext {
  cluster: Cluster;
  table: ClusterTable;
  /** The real procfs of the machine the mount runs on (target of self and local PIDs). */
  hostProc: string;
  /** Where the control view is mounted (target of spawn and events links). */
  controlMount: string;
  /** This machine's node id, 0 if it is none. */
  localNode: number;
  log: Logger;
}

interface Scope {
  ctx: TreeContext;
  proc?: ProcessEntry;
  ended?: EndedEntry;
  tid?: number;
  node?: NodeEntry;
}

type Spec = DirSpec | FileSpec | LinkSpec;

interface DirSpec {
  kind: 'dir';
  children: Record<string, Spec>;
  /** A numeric child (gpid, thread id, node id): how to match it and how to list them. */
  param?: { match(seg: string, scope: Scope): { spec: Spec; scope: Scope } | undefined; list(scope: Scope): string[] };
  /** Names not listed but resolvable (local PIDs, the rest of the real /proc). */
  hidden?: (seg: string, scope: Scope) => Spec | undefined;
}

interface FileSpec {
  kind: 'file';
  /** Permission bits, as real /proc gives them. */
  perm: number;
  ops: (scope: Scope) => FileOps;
}

interface LinkSpec {
  kind: 'link';
  target: (scope: Scope) => string;
}

const { S_IFDIR, S_IFREG, S_IFLNK } = constants;

const file = (perm: number, ops: (s: Scope) => FileOps): FileSpec => ({ kind: 'file', perm, ops });
/** A file of the control view (it keeps an answer per open handle): a link to it. */
const controlLink = (path: (s: Scope) => string): LinkSpec => ({ kind: 'link', target: (s) => `${s.ctx.controlMount}${path(s)}` });
const readOnly = (render: (s: Scope) => Buffer | Promise<Buffer>) => file(0o444, (s) => ({ read: () => render(s) }));
const dir = (children: Record<string, Spec>, more: Partial<DirSpec> = {}): DirSpec => ({ kind: 'dir', children, ...more });

/** A number as /proc names entries: decimal, without leading zeros ("01" is no entry). */
export const isNumber = (seg: string) => /^[1-9]\d{0,9}$/.test(seg);

/** The gpid a top-level name stands for (a number at or above PID_LIMIT), else undefined. */
const gpidOf = (seg: string) => (isNumber(seg) && Number(seg) >= PID_LIMIT ? Number(seg) : undefined);

/** The gpid a path of the view lies under ("/<gpid>/..."), else undefined. */
export function gpidOfPath(path: string): number | undefined {
  const end = path.indexOf('/', 1);
  return gpidOf(end < 0 ? path.slice(1) : path.slice(1, end));
}

const proc = (s: Scope) => s.proc!;
const table = (s: Scope) => s.ctx.table;
const nodeFiles = (s: Scope) => {
  if (s.node!.state !== 'up' || !s.node!.info?.files) throw new FsError(E.EHOSTDOWN, `node ${s.node!.config.id} is down`);
  return s.node!.info.files;
};

/** Files of one thread: task/<gtid>/. */
const THREAD_DIR = dir({
  stat: readOnly((s) => render.renderStat(proc(s), table(s), s.tid)),
  status: readOnly((s) => render.renderStatus(proc(s), table(s), s.tid)),
  comm: readOnly((s) => render.renderComm(proc(s), s.tid)),
  cmdline: readOnly((s) => proc(s).proc.cmdline),
  // Threads share their process's memory: the same statm (top -H reads it per thread).
  statm: readOnly((s) => proc(s).proc.statm),
});

/** The wait file: blocks until the process ends (spec section 5). Mode 0400: reading it consumes
 * the status as its owner (requesterFor), so the kernel must let only the owner, or root, read. */
const WAIT = file(0o400, (s) => ({ blocking: true, read: () => waitFor(s) }));

/** Files of one process: <gpid>/. */
const PROCESS_DIR = dir({
  stat: readOnly((s) => render.renderStat(proc(s), table(s))),
  status: readOnly((s) => render.renderStatus(proc(s), table(s))),
  statm: readOnly((s) => proc(s).proc.statm),
  cmdline: readOnly((s) => proc(s).proc.cmdline),
  comm: readOnly((s) => render.renderComm(proc(s))),
  environ: file(0o400, (s) => ({ read: () => proc(s).proc.environ })),
  cgroup: readOnly((s) => proc(s).proc.cgroup),
  io: file(0o400, (s) => ({ read: () => remoteFile(s, 'IO') })),
  task: dir(
    {},
    {
      param: {
        match: (seg, s) => {
          const p = proc(s);
          const tid = Number(seg) - p.node * PID_LIMIT;
          return isNumber(seg) && hasThread(p, tid) ? { spec: THREAD_DIR, scope: { ...s, tid } } : undefined;
        },
        list: (s) => threadIds(proc(s)).map((tid) => String(encodeGpid(proc(s).node, tid))),
      },
    },
  ),
  ctl: file(0o200, (s) => ({ write: (data, offset) => control(s, data, offset) })),
  wait: WAIT,
  node: readOnly((s) => render.renderNodeOf(proc(s), table(s))),
  usage: readOnly((s) => usage(s)),
});

/** What is left of a process whose exit status an agent still holds: its wait file. */
const ENDED_DIR = dir({ wait: WAIT });

/** nodes/<id>/. */
const NODE_DIR = dir({
  name: readOnly((s) => Buffer.from(`${s.node!.config.name}\n`)),
  address: readOnly((s) => Buffer.from(`${s.node!.config.address}\n`)),
  state: readOnly((s) => Buffer.from(`${s.node!.state}\n`)),
  uptime: readOnly((s) => nodeFiles(s).uptime),
  meminfo: readOnly((s) => nodeFiles(s).meminfo),
  loadavg: readOnly((s) => nodeFiles(s).loadavg),
  spawn: controlLink((s) => `/nodes/${s.node!.config.id}/spawn`),
});

/** The root of the cluster view. */
export const ROOT: DirSpec = dir(
  {
    stat: readOnly((s) => render.renderSystemStat(table(s))),
    uptime: readOnly((s) => render.renderUptime(table(s))),
    meminfo: readOnly((s) => render.renderMeminfo(table(s))),
    loadavg: readOnly((s) => render.renderLoadAvg(table(s))),
    cpuinfo: readOnly((s) => render.renderCpuinfo(table(s))),
    sys: dir({
      kernel: dir({
        pid_max: readOnly(() => Buffer.from(render.PID_MAX)),
        osrelease: readOnly((s) => render.renderOsRelease(table(s), s.ctx.localNode)),
      }),
    }),
    nodes: dir(
      {},
      {
        param: {
          match: (seg, s) => {
            const node = isNumber(seg) ? table(s).nodes.get(Number(seg)) : undefined;
            return node ? { spec: NODE_DIR, scope: { ...s, node } } : undefined;
          },
          list: (s) => [...table(s).nodes.keys()].map(String),
        },
      },
    ),
    events: controlLink(() => '/events'),
    self: { kind: 'link', target: (s) => `${s.ctx.hostProc}/self` },
  },
  {
    param: {
      match: (seg, s) => {
        const gpid = gpidOf(seg);
        if (gpid === undefined) return undefined;
        const t = table(s);
        const p = t.processes.get(gpid);
        if (p) return { spec: PROCESS_DIR, scope: { ...s, proc: p } };
        const ended = t.ended.get(gpid);
        if (ended) return { spec: ENDED_DIR, scope: { ...s, ended } };
        let node: number;
        try {
          node = decodeGpid(gpid).node;
        } catch {
          return undefined;
        }
        if (t.nodes.get(node)?.state === 'down') throw new FsError(E.EHOSTDOWN, `node ${node} is down`);
        return undefined;
      },
      list: (s) => [...table(s).processes.keys()].map(String),
    },
    hidden: (seg, s) => {
      // A local PID resolves to that process of this machine; so does any other name of the
      // real /proc (tty/drivers, mounts...), so that tools under `gproc exec` keep working.
      if (/^\d+$/.test(seg) && (!isNumber(seg) || Number(seg) >= PID_LIMIT)) return undefined;
      if (!existsSync(`${s.ctx.hostProc}/${seg}`)) return undefined;
      return { kind: 'link', target: () => `${s.ctx.hostProc}/${seg}` };
    },
  },
);

/**
 * Resolves a path of the view.
 * @throws FsError ENOENT for a name that is not there, EHOSTDOWN for a process of a down node.
 */
export function resolvePath(path: string, ctx: TreeContext): Resolved {
  let spec: Spec = ROOT;
  let scope: Scope = { ctx };
  for (const seg of path.split('/')) {
    if (seg === '') continue;
    if (spec.kind !== 'dir') throw new FsError(E.ENOTDIR, `${path}: not a directory`);
    const next: { spec: Spec; scope: Scope } | undefined = Object.hasOwn(spec.children, seg)
      ? { spec: spec.children[seg], scope }
      : (spec.param?.match(seg, scope) ?? (spec.hidden ? withScope(spec.hidden(seg, scope), scope) : undefined));
    if (!next) throw new FsError(E.ENOENT, `${path}: no such entry`);
    ({ spec, scope } = next);
  }
  return toResolved(spec, scope);
}

function withScope(spec: Spec | undefined, scope: Scope) {
  return spec ? { spec, scope } : undefined;
}

function toResolved(spec: Spec, scope: Scope): Resolved {
  const owner = ownerOf(scope);
  switch (spec.kind) {
    case 'dir':
      return {
        type: 'dir',
        attr: { mode: S_IFDIR | 0o555, ...owner },
        entries: () => [...Object.keys(spec.children), ...(spec.param?.list(scope) ?? [])],
      };
    case 'link':
      return { type: 'link', attr: { mode: S_IFLNK | 0o777, ...owner }, target: spec.target(scope) };
    case 'file':
      return { type: 'file', attr: { mode: S_IFREG | spec.perm, ...owner }, file: spec.ops(scope) };
  }
}

/** Process entries belong to the process's uid, as in /proc; the rest to root. */
function ownerOf(scope: Scope): { uid: number; gid: number; mtimeMs: number } {
  const p = scope.proc;
  if (!p && scope.ended) return { uid: scope.ended.uid, gid: 0, mtimeMs: scope.ctx.table.builtAtMs };
  if (!p) return { uid: 0, gid: 0, mtimeMs: scope.ctx.table.builtAtMs };
  const info = scope.ctx.table.nodes.get(p.node)?.info;
  const ticks = info?.clockTicks || 100;
  return { uid: p.proc.uid, gid: p.proc.gid, mtimeMs: (scope.ctx.table.btime + p.starttime / ticks) * 1000 };
}

/** The user a request made through a process's file acts for: its owner (the kernel let only it, or root, write). */
function requesterFor(s: Scope): ActAs {
  const { uid, gid } = proc(s).proc;
  return { uid, gid };
}

async function control(s: Scope, data: Buffer, offset: number): Promise<void> {
  const cmd = parseCtl(data, offset);
  const p = proc(s);
  const { cluster, log } = s.ctx;
  if (cmd.verb === 'signal-group' && p.pgrp <= 0) throw new FsError(E.ESRCH, `${p.gpid} has no process group in the cluster`);
  if (cmd.verb === 'signal') {
    const outcome = await signalProcess(cluster, p, cmd.signal, requesterFor(s));
    if (outcome === 'NO_SUCH_PROCESS') throw new FsError(E.ESRCH, `${p.gpid} is gone`);
    if (outcome === 'NOT_PERMITTED') throw new FsError(E.EPERM, `${p.gpid}: not permitted`);
    return;
  }
  // signal-group: the freshest table, so that members started a moment ago are reached.
  const t = await cluster.refresh();
  const result = await signalGroup(cluster, t, p.pgrp, cmd.signal, requesterFor(s));
  log.info({ gpgrp: p.pgrp, signal: cmd.signal, ...result }, 'signal-group');
  if (result.unreachable.length) throw new FsError(E.EHOSTDOWN, `nodes ${result.unreachable} of the group did not answer`);
  if (result.refused.length) throw new FsError(E.EPERM, `group ${p.pgrp}: not permitted for ${result.refused}`);
  if (result.delivered.length === 0) throw new FsError(E.ESRCH, `group ${p.pgrp}: no process left`);
}

async function remoteFile(s: Scope, name: 'IO'): Promise<Buffer> {
  const p = proc(s);
  return s.ctx.cluster.clients.get(p.node)!.readFile({ pid: p.proc.pid, starttime: p.proc.starttime }, name);
}

async function usage(s: Scope): Promise<Buffer> {
  const p = proc(s);
  return render.renderUsage(await s.ctx.cluster.clients.get(p.node)!.usage({ pid: p.proc.pid, starttime: p.proc.starttime }));
}

/** Answers `wait`: at once for an ended process whose status is held, else when it ends. */
async function waitFor(s: Scope): Promise<Buffer> {
  if (s.ended) return render.renderExit(s.ended.status);
  const p = proc(s);
  const { result } = s.ctx.cluster.clients.get(p.node)!.wait({ pid: p.proc.pid, starttime: p.proc.starttime }, requesterFor(s));
  return render.renderExit(await result);
}
