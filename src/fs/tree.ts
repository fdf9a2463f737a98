/**
 * The routing table of the cluster view (spec section 3): every directory, file and link,
 * their modes and owners, and what reading or writing them does. getattr, readdir, read,
 * write and readlink of the cluster view resolve paths through this one table. The files
 * that need a handle per open are links into the control view (control-view.ts), whose
 * paths resolve here too (`resolveControlPath`).
 *
 * Cluster view:
 *   /<gpid>/{stat,status,statm,cmdline,comm,environ,cgroup,io,node,usage}
 *   /<gpid>/{ctl,wait}  links to the control view's files of that process (its identity)
 *   /<gpid>/task/<gtid>/{stat,status,statm,comm,cmdline}
 *   /1/  the cluster's root: stat status statm cmdline comm environ cgroup io task/ ctl
 *   /{stat,uptime,meminfo,loadavg,cpuinfo}  /sys/kernel/{pid_max,osrelease}
 *   /nodes/<id>/{name,address,state,uptime,meminfo,loadavg,spawn}  /events  /self
 *   /<local pid> and any other top-level name of the real /proc: links into it, unlisted
 * Control view:
 *   /nodes/<id>/spawn  /events
 *   /processes/<gpid>-<start time>/{ctl,wait}  one process: its gpid and its start time
 *     (clock ticks after its node's boot), so that a new process with the same gpid has
 *     other paths, which no kernel cache (entries, attributes, failed lookups) confuses
 */
import { constants, existsSync } from 'node:fs';
import type { Cluster } from '../cluster/cluster';
import {
  hasThread,
  threadIds,
  type ClusterTable,
  type EndedEntry,
  type NodeEntry,
  type ProcessEntry,
} from '../cluster/table';
import { ROOT_IO } from '../cluster/root';
import { decodeGpid, PID_LIMIT, ROOT_GPID, translatePid } from '../gpid';
import type { Logger } from '../log';
import { E, FsError } from './errno';
import { bindEnded, bindLive, type BoundProcess } from './process-handle';
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

/** The paths of the control view that the cluster view links to. */
export const CONTROL_PATHS = {
  spawn: (node: number) => `/nodes/${node}/spawn`,
  events: '/events',
  /** A file of one process, named by its identity (module comment). */
  process: (gpid: number, starttime: number, name: 'ctl' | 'wait') =>
    `/processes/${gpid}-${starttime}/${name}`,
};

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
  param?: {
    match(seg: string, scope: Scope): { spec: Spec; scope: Scope } | undefined;
    list(scope: Scope): string[];
  };
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
const controlLink = (path: (s: Scope) => string): LinkSpec => ({
  kind: 'link',
  target: (s) => `${s.ctx.controlMount}${path(s)}`,
});
const readOnly = (render: (s: Scope) => Buffer | Promise<Buffer>) =>
  file(0o444, (s) => ({ read: () => render(s) }));
const dir = (children: Record<string, Spec>, more: Partial<DirSpec> = {}): DirSpec => ({
  kind: 'dir',
  children,
  ...more,
});

/** A number as /proc names entries: decimal, without leading zeros ("01" is no entry). */
export const isNumber = (seg: string) => /^[1-9]\d{0,9}$/.test(seg);

/** The gpid a top-level name stands for (1, or a number at or above PID_LIMIT), else undefined. */
const gpidOf = (seg: string) =>
  isNumber(seg) && (Number(seg) >= PID_LIMIT || Number(seg) === ROOT_GPID)
    ? Number(seg)
    : undefined;

/** The gpid a path of the view lies under ("/<gpid>/..."), else undefined. */
export function gpidOfPath(path: string): number | undefined {
  const end = path.indexOf('/', 1);
  return gpidOf(end < 0 ? path.slice(1) : path.slice(1, end));
}

const proc = (s: Scope) => s.proc!;
const table = (s: Scope) => s.ctx.table;
const nodeFiles = (s: Scope) => {
  if (s.node!.state !== 'up' || !s.node!.info?.files)
    throw new FsError(E.EHOSTDOWN, `node ${s.node!.config.id} is down`);
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
          return isNumber(seg) && hasThread(p, tid)
            ? { spec: THREAD_DIR, scope: { ...s, tid } }
            : undefined;
        },
        list: (s) => threadIds(proc(s)).map((tid) => String(translatePid(proc(s).node, tid))),
      },
    },
  ),
  ctl: controlLink((s) => CONTROL_PATHS.process(proc(s).gpid, proc(s).proc.starttime, 'ctl')),
  wait: controlLink((s) => CONTROL_PATHS.process(proc(s).gpid, proc(s).proc.starttime, 'wait')),
  node: readOnly((s) => render.renderNodeOf(proc(s), table(s))),
  usage: readOnly((s) => usage(s)),
});

/**
 * The cluster's root, gpid 1 (root.ts): the files tools read for a process, io all zeros;
 * its ctl refuses every signal (process-handle.ts). No node holds it: no wait, node, usage.
 */
const ROOT_FILES = 'stat status statm cmdline comm environ cgroup task ctl'.split(' ');
const CLUSTER_ROOT_DIR = dir({
  ...Object.fromEntries(ROOT_FILES.map((name) => [name, PROCESS_DIR.children[name]])),
  io: file(0o400, () => ({ read: () => ROOT_IO })),
});

/** What is left of a process whose exit status an agent still holds: its wait file. */
const ENDED_DIR = dir({
  wait: controlLink((s) => CONTROL_PATHS.process(s.ended!.gpid, s.ended!.starttime, 'wait')),
});

/** nodes/<id>/. */
const NODE_DIR = dir({
  name: readOnly((s) => Buffer.from(`${s.node!.config.name}\n`)),
  address: readOnly((s) => Buffer.from(`${s.node!.config.address}\n`)),
  state: readOnly((s) => Buffer.from(`${s.node!.state}\n`)),
  uptime: readOnly((s) => nodeFiles(s).uptime),
  meminfo: readOnly((s) => nodeFiles(s).meminfo),
  loadavg: readOnly((s) => nodeFiles(s).loadavg),
  spawn: controlLink((s) => CONTROL_PATHS.spawn(s.node!.config.id)),
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
    events: controlLink(() => CONTROL_PATHS.events),
    self: { kind: 'link', target: (s) => `${s.ctx.hostProc}/self` },
  },
  {
    param: {
      match: (seg, s) => {
        const gpid = gpidOf(seg);
        if (gpid === undefined) return undefined;
        const t = table(s);
        const p = t.processes.get(gpid);
        if (p)
          return {
            spec: p.gpid === ROOT_GPID ? CLUSTER_ROOT_DIR : PROCESS_DIR,
            scope: { ...s, proc: p },
          };
        const ended = t.ended.get(gpid);
        if (ended) return { spec: ENDED_DIR, scope: { ...s, ended } };
        let node: number;
        try {
          node = decodeGpid(gpid).node;
        } catch {
          return undefined;
        }
        if (t.nodes.get(node)?.state === 'down')
          throw new FsError(E.EHOSTDOWN, `node ${node} is down`);
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
      : (spec.param?.match(seg, scope) ??
        (spec.hidden ? withScope(spec.hidden(seg, scope), scope) : undefined));
    if (!next) throw new FsError(E.ENOENT, `${path}: no such entry`);
    ({ spec, scope } = next);
  }
  return toResolved(spec, scope);
}

function withScope(spec: Spec | undefined, scope: Scope) {
  return spec ? { spec, scope } : undefined;
}

function toResolved(spec: Spec, scope: Scope): Resolved {
  const owner = ownerOf(scope.ctx.table, scope.proc);
  switch (spec.kind) {
    case 'dir':
      return {
        type: 'dir',
        attr: { mode: S_IFDIR | 0o555, ...owner },
        entries: () => [...Object.keys(spec.children), ...(spec.param?.list(scope) ?? [])],
      };
    case 'link':
      return {
        type: 'link',
        attr: { mode: S_IFLNK | 0o777, ...owner },
        target: spec.target(scope),
      };
    case 'file':
      return { type: 'file', attr: { mode: S_IFREG | spec.perm, ...owner }, file: spec.ops(scope) };
  }
}

/** Process entries belong to the process's uid, as in /proc; the rest to root. */
function ownerOf(
  table: ClusterTable,
  p: ProcessEntry | undefined,
): { uid: number; gid: number; mtimeMs: number } {
  if (!p) return { uid: 0, gid: 0, mtimeMs: table.builtAtMs };
  const info = table.nodes.get(p.node)?.info;
  const ticks = info?.clockTicks || 100;
  return { uid: p.proc.uid, gid: p.proc.gid, mtimeMs: (table.btime + p.starttime / ticks) * 1000 };
}

async function remoteFile(s: Scope, name: 'IO'): Promise<Buffer> {
  const p = proc(s);
  return s.ctx.cluster.clients
    .get(p.node)!
    .readFile({ pid: p.proc.pid, starttime: p.proc.starttime }, name);
}

async function usage(s: Scope): Promise<Buffer> {
  const p = proc(s);
  return render.renderUsage(
    await s.ctx.cluster.clients
      .get(p.node)!
      .usage({ pid: p.proc.pid, starttime: p.proc.starttime }),
  );
}

/** What a path of the control view is: control-view.ts gives each open of a file a handle. */
export type ControlEntry =
  | { kind: 'dir'; attr: Attr; entries: () => string[] }
  | { kind: 'spawn'; attr: Attr; node: number }
  | { kind: 'events'; attr: Attr }
  /** A file of one process (`process` is what an open binds: process-handle.ts). */
  | { kind: 'ctl' | 'wait'; attr: Attr; process: BoundProcess };

/** What resolving a control path needs: the cluster, and its table for process paths. */
export interface ControlContext {
  cluster: Cluster;
  /** The current table (made fresh if it is not). */
  table: () => ClusterTable | Promise<ClusterTable>;
}

/**
 * Resolves a path of the control view (module comment): root's files and directories, and
 * the files of one process, which exist while the table lists that process with that start
 * time (or holds its exit status: `wait` only). Owners and modes as in the cluster view:
 * spawn 0600 root, events 0444, ctl 0200 and wait 0400 owned by the process's uid.
 * @throws FsError ENOENT (no such path, or the process ended), EHOSTDOWN (its node is down).
 */
export function resolveControlPath(
  path: string,
  ctx: ControlContext,
): ControlEntry | Promise<ControlEntry> {
  const root = (mode: number) => ({ mode, uid: 0, gid: 0, mtimeMs: 0 });
  const dirEntry = (entries: () => string[]): ControlEntry => ({
    kind: 'dir',
    attr: root(S_IFDIR | 0o555),
    entries,
  });
  const nodeIds = () => [...ctx.cluster.clients.keys()].map(String);
  if (path === '/') return dirEntry(() => ['nodes', 'events', 'processes']);
  if (path === CONTROL_PATHS.events) return { kind: 'events', attr: root(S_IFREG | 0o444) };
  if (path === '/nodes') return dirEntry(nodeIds);
  const node = /^\/nodes\/([1-9]\d{0,2})(\/spawn)?$/.exec(path);
  if (node && ctx.cluster.clients.has(Number(node[1]))) {
    const id = Number(node[1]);
    return node[2]
      ? { kind: 'spawn', attr: root(S_IFREG | 0o600), node: id }
      : dirEntry(() => ['spawn']);
  }
  const m = /^\/processes(?:\/([1-9]\d{0,14})-(0|[1-9]\d{0,19})(?:\/(ctl|wait))?)?$/.exec(path);
  if (!m) throw new FsError(E.ENOENT, `${path}: no such entry`);
  const inTable = (table: ClusterTable): ControlEntry => {
    if (m[1] === undefined) return dirEntry(() => processIds(table));
    const gpid = Number(m[1]);
    const starttime = Number(m[2]);
    const live = table.processes.get(gpid);
    const ended = table.ended.get(gpid);
    let bound: BoundProcess | undefined;
    let mtimeMs = table.builtAtMs;
    if (live?.proc.starttime === starttime) {
      bound = bindLive(live, table);
      mtimeMs = ownerOf(table, live).mtimeMs;
    } else if (ended?.starttime === starttime && m[3] !== 'ctl') bound = bindEnded(ended, table);
    if (!bound) {
      const down = isGpidOfDownNode(gpid, table);
      throw new FsError(
        down ? E.EHOSTDOWN : E.ENOENT,
        `${path}: ${down ? 'its node is down' : 'no such process'}`,
      );
    }
    const { uid, gid } = bound.owner;
    if (m[3] === undefined)
      return {
        kind: 'dir',
        attr: { mode: S_IFDIR | 0o555, uid, gid, mtimeMs },
        entries: () => (bound.ended ? ['wait'] : ['ctl', 'wait']),
      };
    const kind = m[3] as 'ctl' | 'wait';
    return {
      kind,
      attr: { mode: S_IFREG | (kind === 'ctl' ? 0o200 : 0o400), uid, gid, mtimeMs },
      process: bound,
    };
  };
  const table = ctx.table();
  return table instanceof Promise ? table.then(inTable) : inTable(table);
}

/** The names of processes/ in the control view: every listed process and held status. */
function processIds(table: ClusterTable): string[] {
  const live = [...table.processes.values()].map((p) => `${p.gpid}-${p.proc.starttime}`);
  const ended = [...table.ended.values()].map((e) => `${e.gpid}-${e.starttime}`);
  return [...live, ...ended];
}

function isGpidOfDownNode(gpid: number, table: ClusterTable): boolean {
  try {
    return table.nodes.get(decodeGpid(gpid).node)?.state === 'down';
  } catch {
    return false;
  }
}
