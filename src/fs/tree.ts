/**
 * The routing table of the cluster view (spec section 3): every directory, file and link,
 * their modes and owners, and what reading or writing them does. getattr, readdir, read,
 * write and readlink of the cluster view resolve paths through this one table. The files
 * that need a handle per open are links into the control view (control-view.ts), whose
 * paths resolve here too (`resolveControlPath`).
 *
 * Cluster view:
 *   /<gpid>/<file>  the per-process files declared in procfs/files.ts (stat, status, ...)
 *   /<gpid>/{node,usage}
 *   /<gpid>/{ctl,wait}  links to the control view's files of that process (its identity)
 *   /<gpid>/task/<gtid>/<file>  the per-process files declared for threads too
 *   /1/  the cluster's root: stat status statm cmdline comm environ cgroup io task/ ctl
 *   /{stat,uptime,meminfo,loadavg,cpuinfo}  /sys/kernel/{pid_max,osrelease,sched_autogroup_enabled}
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
  threadOf,
  type ClusterTable,
  type EndedEntry,
  type NodeEntry,
  type ProcessEntry,
} from '../cluster/table';
import { ROOT_IO } from '../cluster/root';
import { decodeGpid, PID_LIMIT, ROOT_GPID, translatePid } from '../gpid';
import type { Logger } from '../log';
import {
  declOf,
  FILE_NAMES,
  isSnapshotFile,
  isThreadFile,
  PROCESS_LINKS,
  wireName,
  type ProcessFile,
} from '../procfs/files';
import type { ProcessLink__Output as ProcessLinkEntry } from '../proto/gen/gproc/v1/ProcessLink';
import type { ProcessFileName } from '../proto/gen/gproc/v1/ProcessFileName';
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
  | { type: 'dir'; attr: Attr; entries: () => string[] | Promise<string[]> }
  | { type: 'link'; attr: Attr; target: () => string | Promise<string>; remote?: RemoteLink }
  | { type: 'file'; attr: Attr; file: FileOps };

/**
 * A link whose target the owning agent reads (exe, fd/<n>, ns/<type>): its size is what
 * Linux reports (0, or 64 for fd/<n>) and `checked` when a lookup must ask the agent
 * whether it exists (fd/<n>: the descriptor may be closed); exe, cwd and root always
 * exist, as in /proc (readlink fails for a kernel thread's exe).
 */
export interface RemoteLink {
  size: number;
  checked: boolean;
}

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
  /**
   * Answers of the owning agents kept for the life of `table` (its links, by
   * "<gpid>/<set>"), so that fd/ listed then looked up and read costs one call.
   */
  memo: Map<string, Promise<unknown>>;
  /**
   * procfs's hidepid=1: every process directory is mode 0500, so only its owner (and root)
   * may list it or read its files; the directories stay listed.
   */
  hidePid?: boolean;
}

/** What every level of the tree knows. */
interface RootScope {
  ctx: TreeContext;
}
/** Under <gpid>/ of a listed process. */
interface ProcessScope extends RootScope {
  proc: ProcessEntry;
}
/** Under <gpid>/task/<gtid>/: `tid` is node-local. */
interface ThreadScope extends ProcessScope {
  tid: number;
}
/** Under <gpid>/ of an ended process whose status an agent holds. */
interface EndedScope extends RootScope {
  ended: EndedEntry;
}
/** Under <gpid>/fd/<n> and fdinfo/<n>. */
interface FdScope extends ProcessScope {
  fd: number;
}
/** Under nodes/<id>/. */
interface NodeScope extends RootScope {
  node: NodeEntry;
}

type Spec<S> = DirSpec<S> | FileSpec<S> | LinkSpec<S>;

interface DirSpec<S> {
  kind: 'dir';
  /** Permission bits (0o555 when not given). */
  perm?: number | ((scope: S) => number);
  children: Record<string, Spec<S>>;
  /** A numeric child (gpid, thread id, node id): how to match it and how to list them. */
  param?: {
    match(seg: string, scope: S): Place | undefined;
    list(scope: S): string[] | Promise<string[]>;
  };
  /** Names not listed but resolvable (local PIDs, the rest of the real /proc). */
  hidden?: (seg: string, scope: S) => Spec<S> | undefined;
}

interface FileSpec<S> {
  kind: 'file';
  /** Permission bits, as real /proc gives them. */
  perm: number;
  ops: (scope: S) => FileOps;
}

interface LinkSpec<S> {
  kind: 'link';
  target: (scope: S) => string | Promise<string>;
  /** The permission bits of its target, when the view serves that too (documentation). */
  mode?: number;
  /** Read from the owning agent (RemoteLink). */
  remote?: RemoteLink;
}

/** A place in the tree: a spec with the scope of its level, bound together. */
interface Place {
  isDir: boolean;
  /** The child named `seg`, or undefined when there is none (a directory's only). */
  child(seg: string): Place | undefined;
  resolved(): Resolved;
}

function place<S extends RootScope>(spec: Spec<S>, scope: S): Place {
  return {
    isDir: spec.kind === 'dir',
    child: (seg) => {
      if (spec.kind !== 'dir') return undefined;
      if (Object.hasOwn(spec.children, seg)) return place(spec.children[seg], scope);
      const param = spec.param?.match(seg, scope);
      if (param) return param;
      const hidden = spec.hidden?.(seg, scope);
      return hidden ? place(hidden, scope) : undefined;
    },
    resolved: () => toResolved(spec, scope),
  };
}

const { S_IFDIR, S_IFREG, S_IFLNK } = constants;
/** Permission bits of the files only a process's owner (and root) may read. */
const OWNER_ONLY = 0o400;

const file = <S>(perm: number, ops: (s: S) => FileOps): FileSpec<S> => ({
  kind: 'file',
  perm,
  ops,
});
/** A file of the control view (it keeps an answer per open handle): a link to it. */
const controlLink = <S extends RootScope>(path: (s: S) => string): LinkSpec<S> => ({
  kind: 'link',
  target: (s) => `${s.ctx.controlMount}${path(s)}`,
});
const readOnly = <S>(render: (s: S) => Buffer | Promise<Buffer>) =>
  file<S>(0o444, (s) => ({ read: () => render(s) }));
const dir = <S>(children: Record<string, Spec<S>>, more: Partial<DirSpec<S>> = {}): DirSpec<S> => ({
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

const table = (s: RootScope) => s.ctx.table;
const nodeFiles = ({ node }: NodeScope) => {
  if (node.state !== 'up' || !node.info?.files)
    throw new FsError(E.EHOSTDOWN, `node ${node.config.id} is down`);
  return node.info.files;
};

const renderers: Partial<Record<ProcessFile, render.FileRenderer>> = render.RENDERERS;

/** The bytes of per-process file `name` of a process, or of its thread `tid` (files.ts). */
function processFile(name: ProcessFile, s: ProcessScope, tid?: number): Buffer | Promise<Buffer> {
  const p = s.proc;
  const renderer = renderers[name];
  if (renderer) return renderer(p, table(s), tid);
  const decl = declOf(name);
  if (decl.read === 'on-demand') return remoteFile(s, wireName(name), tid);
  if (tid !== undefined && isThreadFile(name)) {
    const own = threadOf(p, tid);
    if (own) return own.files[name];
  }
  if (isSnapshotFile(name)) return p.proc[name];
  throw new FsError(E.EIO, `${name}: declared as made by the view, without a renderer`);
}

/** The per-process files (files.ts) as the view's files of one process, or of one thread. */
function processFiles<S extends ProcessScope>(
  names: readonly ProcessFile[],
  tidOf: (s: S) => number | undefined,
): Record<string, FileSpec<S>> {
  return Object.fromEntries(
    names.map((name) => [
      name,
      file<S>(declOf(name).mode, (s) => ({ read: () => processFile(name, s, tidOf(s)) })),
    ]),
  );
}

/** A process directory's mode: 0555, or 0500 under hidepid (TreeContext.hidePid). */
const processDirPerm = (s: RootScope) => (s.ctx.hidePid ? 0o500 : 0o555);

/** The hidden directory that names a process by its start: `<gpid>/.started/<starttime>/`. */
const STARTED = '.started';

/**
 * Files only their owner may read (mode 0400: environ, io, maps...) become links to the
 * same files under `.started/<starttime>/`, a path that holds the process's start time.
 * The view serves reads by path, with no open (cached-view.ts), and the kernel checks the
 * mode only at open: a descriptor held on `<gpid>/environ` itself would read the environ
 * of whichever process of whichever user gets that pid next. Held on the link's target,
 * it reads ESRCH once the gpid is another process's, as a descriptor of /proc stops
 * reading its process once it ended.
 */
function ownerOnlyByStart<S extends ProcessScope>(
  files: Record<string, FileSpec<S>>,
): { children: Record<string, Spec<S>>; hidden: (seg: string) => Spec<S> | undefined } {
  const ownerOnly = Object.fromEntries(
    Object.entries(files).filter(([, f]) => f.perm === OWNER_ONLY),
  );
  const atStart = dir<S>(ownerOnly, { perm: processDirPerm });
  const started = dir<S>(
    {},
    {
      perm: processDirPerm,
      param: {
        match: (seg, s) => {
          if (!/^(0|[1-9]\d{0,19})$/.test(seg)) return undefined;
          if (seg !== String(s.proc.proc.starttime))
            throw new FsError(
              E.ESRCH,
              `${s.proc.gpid}: another process than the one started at ${seg}`,
            );
          return place(atStart, s);
        },
        list: () => [],
      },
    },
  );
  const links = Object.fromEntries(
    Object.keys(ownerOnly).map((name): [string, LinkSpec<S>] => [
      name,
      {
        kind: 'link',
        target: (s) => `${STARTED}/${s.proc.proc.starttime}/${name}`,
        mode: OWNER_ONLY,
      },
    ]),
  );
  return {
    children: { ...files, ...links },
    hidden: (seg) => (seg === STARTED ? started : undefined),
  };
}

/** A descriptor number as fd/ names it: decimal, 0 included. */
const isFd = (seg: string) => /^(0|[1-9]\d{0,9})$/.test(seg);

type LinkSet = 'LINKS' | 'FD' | 'NS';

/**
 * The links of set `set` of a process, as its owning agent read them: once per table
 * (TreeContext.memo), shared by the listing, the lookups and the readlinks of one refresh.
 */
function linksOf(s: ProcessScope, set: LinkSet): Promise<Map<string, ProcessLinkEntry>> {
  const key = `${s.proc.gpid}/${set}`;
  let got = s.ctx.memo.get(key) as Promise<Map<string, ProcessLinkEntry>> | undefined;
  if (!got) {
    const { client, ref } = owningAgent(s);
    got = client.readLinks(ref, set).then((links) => new Map(links.map((l) => [l.name, l])));
    s.ctx.memo.set(key, got);
  }
  return got;
}

/**
 * The target of link `name` of set `set`, as readlink(2) gave it on the owning node.
 * @throws FsError ENOENT when there is no such link (a closed descriptor) or readlink
 *   failed with ENOENT there (exe of a kernel thread); the node's errno for other failures.
 */
async function linkTarget(s: ProcessScope, set: LinkSet, name: string): Promise<string> {
  const link = (await linksOf(s, set)).get(name);
  if (!link) throw new FsError(E.ENOENT, `${s.proc.gpid}: no link ${name}`);
  if (link.error) {
    const errno = (E as Record<string, number>)[link.error] ?? E.EIO;
    throw new FsError(errno, `${s.proc.gpid}/${name}: ${link.error} on its node`);
  }
  // fuse-native passes a link's target as a UTF-8 string (native-notes/security.md).
  return link.target.toString('utf8');
}

/** A directory of links of a process (fd/, ns/): mode 0500, owned by the process's uid. */
function linkDir(set: LinkSet, remote: RemoteLink, match: (seg: string) => boolean) {
  const link = (name: string): LinkSpec<ProcessScope> => ({
    kind: 'link',
    target: (s) => linkTarget(s, set, name),
    remote,
  });
  return dir<ProcessScope>(
    {},
    {
      perm: 0o500,
      param: {
        match: (seg, s) => (match(seg) ? place(link(seg), s) : undefined),
        list: (s) => linksOf(s, set).then((m) => [...m.keys()]),
      },
    },
  );
}

/** fdinfo/<fd>: as the owning node gives it, the PIDs of a pidfd translated. */
const FDINFO_FILE = file<FdScope>(0o444, (s) => ({
  read: async () => {
    const { client, ref } = owningAgent(s);
    return render.renderFdinfo(s.proc.node, await client.readFdinfo(ref, s.fd));
  },
}));

/** exe, cwd, root: links whose targets the owning agent reads (one call for the three). */
const PROCESS_LINK_SPECS = Object.fromEntries(
  PROCESS_LINKS.map((name): [string, LinkSpec<ProcessScope>] => [
    name,
    {
      kind: 'link',
      target: (s) => linkTarget(s, 'LINKS', name),
      remote: { size: 0, checked: false },
    },
  ]),
);

/**
 * Files of one thread: task/<gtid>/. Its exe, cwd and root are its process's (htop reads a
 * thread's exe): every thread shares its process's exe; cwd and root are shared unless a
 * thread left them with unshare(CLONE_FS), which the view does not see.
 */
const THREAD_FILES = ownerOnlyByStart(
  processFiles<ThreadScope>(
    FILE_NAMES.filter((n) => declOf(n).thread),
    (s) => s.tid,
  ),
);
const THREAD_DIR = dir<ThreadScope>(
  { ...THREAD_FILES.children, ...PROCESS_LINK_SPECS },
  { hidden: THREAD_FILES.hidden },
);

/** Files of one process: <gpid>/. */
const PROCESS_FILES_OF = processFiles<ProcessScope>(FILE_NAMES, () => undefined);
const PROCESS_FILES_BY_START = ownerOnlyByStart(PROCESS_FILES_OF);
const PROCESS_DIR = dir<ProcessScope>(
  {
    ...PROCESS_FILES_BY_START.children,
    task: dir(
      {},
      {
        param: {
          match: (seg, s) => {
            const p = s.proc;
            const tid = Number(seg) - p.node * PID_LIMIT;
            return isNumber(seg) && hasThread(p, tid)
              ? place(THREAD_DIR, { ...s, tid })
              : undefined;
          },
          list: ({ proc: p }) => threadIds(p).map((tid) => String(translatePid(p.node, tid))),
        },
      },
    ),
    ...PROCESS_LINK_SPECS,
    fd: linkDir('FD', { size: 64, checked: true }, isFd),
    fdinfo: dir(
      {},
      {
        perm: 0o500,
        param: {
          match: (seg, s) =>
            isFd(seg) ? place(FDINFO_FILE, { ...s, fd: Number(seg) }) : undefined,
          list: (s) => linksOf(s, 'FD').then((m) => [...m.keys()]),
        },
      },
    ),
    ns: linkDir('NS', { size: 0, checked: true }, (seg) => /^[a-z_]{1,32}$/.test(seg)),
    ctl: controlLink(({ proc: p }) => CONTROL_PATHS.process(p.gpid, p.proc.starttime, 'ctl')),
    wait: controlLink(({ proc: p }) => CONTROL_PATHS.process(p.gpid, p.proc.starttime, 'wait')),
    node: readOnly((s) => render.renderNodeOf(s.proc, table(s))),
    usage: readOnly(usage),
  },
  { perm: processDirPerm, hidden: PROCESS_FILES_BY_START.hidden },
);

/**
 * The cluster's root, gpid 1 (root.ts): the files tools read for a process, io all zeros;
 * its ctl refuses every signal (process-handle.ts). No node holds it: no wait, node, usage.
 * It stays 0555 under hidepid: it is no process of anyone's, and pstree needs it.
 */
const ROOT_FILES = 'stat status statm cmdline comm environ cgroup task ctl'.split(' ');
const CLUSTER_ROOT_DIR = dir<ProcessScope>({
  ...Object.fromEntries(
    ROOT_FILES.map((name) => [name, PROCESS_FILES_OF[name] ?? PROCESS_DIR.children[name]]),
  ),
  io: file(0o400, () => ({ read: () => ROOT_IO })),
});

/** What is left of a process whose exit status an agent still holds: its wait file. */
const ENDED_DIR = dir<EndedScope>({
  wait: controlLink(({ ended }) => CONTROL_PATHS.process(ended.gpid, ended.starttime, 'wait')),
});

/** nodes/<id>/. */
const NODE_DIR = dir<NodeScope>({
  name: readOnly(({ node }) => Buffer.from(`${node.config.name}\n`)),
  address: readOnly(({ node }) => Buffer.from(`${node.config.address}\n`)),
  state: readOnly(({ node }) => Buffer.from(`${node.state}\n`)),
  age: readOnly(({ node }) => render.renderNodeAge(node)),
  uptime: readOnly((s) => nodeFiles(s).uptime),
  meminfo: readOnly((s) => nodeFiles(s).meminfo),
  loadavg: readOnly((s) => nodeFiles(s).loadavg),
  spawn: controlLink(({ node }) => CONTROL_PATHS.spawn(node.config.id)),
});

/** The root of the cluster view. */
const ROOT = dir<RootScope>(
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
        sched_autogroup_enabled: readOnly((s) =>
          render.renderAutogroupEnabled(table(s), s.ctx.localNode),
        ),
      }),
    }),
    nodes: dir(
      {},
      {
        param: {
          match: (seg, s) => {
            const node = isNumber(seg) ? table(s).nodes.get(Number(seg)) : undefined;
            return node ? place(NODE_DIR, { ...s, node }) : undefined;
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
        const proc = t.processes.get(gpid);
        if (proc)
          return place(proc.gpid === ROOT_GPID ? CLUSTER_ROOT_DIR : PROCESS_DIR, { ...s, proc });
        const ended = t.ended.get(gpid);
        if (ended) return place(ENDED_DIR, { ...s, ended });
        if (isGpidOfDownNode(gpid, t)) throw new FsError(E.EHOSTDOWN, `${seg}: its node is down`);
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
 * @throws FsError ENOENT for a name that is not there, ENOTDIR for a name under a file,
 *   EHOSTDOWN for a process of a down node.
 */
export function resolvePath(path: string, ctx: TreeContext): Resolved {
  let at = place(ROOT, { ctx });
  for (const seg of path.split('/')) {
    if (seg === '') continue;
    if (!at.isDir) throw new FsError(E.ENOTDIR, `${path}: not a directory`);
    const next = at.child(seg);
    if (!next) throw new FsError(E.ENOENT, `${path}: no such entry`);
    at = next;
  }
  return at.resolved();
}

function toResolved<S extends RootScope>(spec: Spec<S>, scope: S): Resolved {
  const owner = ownerOf(scope.ctx.table, (scope as Partial<ProcessScope>).proc);
  switch (spec.kind) {
    case 'dir':
      return {
        type: 'dir',
        attr: {
          mode:
            S_IFDIR | (typeof spec.perm === 'function' ? spec.perm(scope) : (spec.perm ?? 0o555)),
          ...owner,
        },
        entries: () => {
          const fixed = Object.keys(spec.children);
          const more = spec.param?.list(scope) ?? [];
          return more instanceof Promise ? more.then((m) => [...fixed, ...m]) : [...fixed, ...more];
        },
      };
    case 'link':
      return {
        type: 'link',
        attr: { mode: S_IFLNK | 0o777, ...owner },
        target: () => spec.target(scope),
        remote: spec.remote,
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

/** The owning agent of a listed process, and the process as a request names it. */
function owningAgent({ ctx, proc: p }: ProcessScope) {
  const client = ctx.cluster.clients.get(p.node);
  if (!client) throw new FsError(E.EHOSTDOWN, `${p.gpid}: its node is not configured`);
  return { client, ref: { pid: p.proc.pid, starttime: p.proc.starttime } };
}

/** A file the owning agent reads when it is read (task/<tid>/ of it when `tid` is given). */
async function remoteFile(s: ProcessScope, name: ProcessFileName, tid?: number): Promise<Buffer> {
  const { client, ref } = owningAgent(s);
  return client.readFile(ref, name, tid);
}

async function usage(s: ProcessScope): Promise<Buffer> {
  const { client, ref } = owningAgent(s);
  return render.renderUsage(await client.usage(ref));
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

/** One entry of a level of the tree, as the documentation lists it (src/cli/man.ts). */
export interface ShapeEntry {
  name: string;
  kind: 'dir' | 'file' | 'link';
  /**
   * Permission bits of a file, or of a link's target when the view serves it (the files of
   * mode 0400 under .started/); other links' targets are in the control view.
   */
  perm?: number;
}

/**
 * The fixed names of each level of the view, with their kinds and modes: what gproc-proc(5)
 * documents, read from the very table that serves them. Numeric names (gpids, thread ids,
 * node ids) are not listed: the man page names them <gpid>, <gtid> and <id>.
 */
export function treeShape(): Record<
  'root' | 'kernel' | 'process' | 'thread' | 'clusterRoot' | 'ended' | 'node',
  ShapeEntry[]
> {
  const level = (d: DirSpec<never>): ShapeEntry[] =>
    Object.entries(d.children).map(([name, s]) => ({
      name,
      kind: s.kind,
      ...(s.kind === 'file'
        ? { perm: s.perm }
        : s.kind === 'link' && s.mode
          ? { perm: s.mode }
          : {}),
    }));
  const sys = ROOT.children.sys as DirSpec<RootScope>;
  return {
    root: level(ROOT),
    kernel: level(sys.children.kernel as DirSpec<never>),
    process: level(PROCESS_DIR),
    thread: level(THREAD_DIR),
    clusterRoot: level(CLUSTER_ROOT_DIR),
    ended: level(ENDED_DIR),
    node: level(NODE_DIR),
  };
}
