/**
 * The merged process table: every up node's snapshot, keyed by global PID, with the
 * translations the cluster view needs (spec sections 1 and 3):
 * - pid/ppid/pgrp/session/tpgid of every process as gpids;
 * - the cluster's root (gpid 1, root.ts), always listed, parent of every process whose
 *   parent is 0 on its node;
 * - global parents, groups and sessions of processes an agent started for a cluster
 *   request (the requester's gpid is the parent; the requester's group and session are
 *   the process's, and its descendants' that stayed in them);
 * - one cluster boot time (`btime`, the earliest boot of any node seen) and, per node,
 *   the shift in clock ticks that keeps every process's wall-clock start true.
 * Building a table is pure: no I/O, so it is tested directly.
 */
import type { NodeConfig } from '../config';
import { encodeGpid, translatePid } from '../gpid';
import { parsePidStat, type PidStat } from '../procfs/stat';
import type { ExitStatus__Output } from '../proto/gen/gproc/v1/ExitStatus';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import type { Origin__Output } from '../proto/gen/gproc/v1/Origin';
import type { Process__Output } from '../proto/gen/gproc/v1/Process';
import type { Thread__Output } from '../proto/gen/gproc/v1/Thread';
import type { Snapshot__Output } from '../proto/gen/gproc/v1/Snapshot';
import { parentInView, ROOT_ENTRY } from './root';
import { defaults } from '../defaults';

/** What the table knows about one node. */
export interface NodeEntry {
  config: NodeConfig;
  state: 'up' | 'down';
  /** The node's info from its last good snapshot (kept while it is down). */
  info?: NodeInfo__Output;
  /** Clock ticks added to the starttime of this node's processes. */
  startShift: number;
  /**
   * The cluster's number of this node's cpu0: the top-level stat and cpuinfo list the
   * CPUs of the up nodes in node order, so a process's CPU (stat field 39) is this plus
   * its number on the node.
   */
  cpuOffset: number;
  /** Wall-clock ms of the last good snapshot, on the node's clock. */
  takenAtMs: number;
  /**
   * When the node read what the view lists of it, on this machine's wall clock (ms): its
   * `takenAtMs` less its clock offset from the heartbeat. Now minus this is the listing's age
   * (`nodes/<id>/age`); 0 while down.
   */
  takenAtLocalMs: number;
  /** Why the node is down (gRPC message), for logs. */
  error?: string;
}

/** One process of the cluster view. */
export interface ProcessEntry {
  gpid: number;
  node: number;
  /** As the agent sent it: raw files and identity in the node's own PIDs. */
  proc: Process__Output;
  /** Parsed stat of the process. */
  stat: PidStat;
  /** Global ids as the view shows them. */
  ppid: number;
  pgrp: number;
  session: number;
  tpgid: number;
  /** starttime shifted to the cluster btime, clock ticks. */
  starttime: number;
  /** Its threads by tid, built on first use (`threadOf`): most processes are never asked. */
  threadIndex?: Map<number, ThreadEntry>;
}

/** A thread of a listed process: its files as the agent sent them, stat parsed on first use. */
export interface ThreadEntry {
  files: Thread__Output;
  stat?: PidStat;
}

/**
 * Thread `tid` (node-local id) of `p`, or undefined when the snapshot does not carry it (a
 * process whose threads were not sent has only its own id, see `threadIds`).
 */
export function threadOf(p: ProcessEntry, tid: number): ThreadEntry | undefined {
  p.threadIndex ??= new Map(p.proc.threads.map((files) => [files.tid, { files }]));
  return p.threadIndex.get(tid);
}

/** Parsed stat of thread `tid` of `p`; the process's own when the thread is not carried. */
export function threadStat(p: ProcessEntry, tid: number): PidStat {
  const t = threadOf(p, tid);
  if (!t) return p.stat;
  return (t.stat ??= parsePidStat(t.files.stat));
}

/** Node-local thread ids of `p` (task/): its threads when the snapshot carries them, else its own id. */
export function threadIds(p: ProcessEntry): number[] {
  return p.proc.threads.length ? p.proc.threads.map((t) => t.tid) : [p.proc.pid];
}

/** True when `tid` (node-local) is a thread of `p` in task/. */
export function hasThread(p: ProcessEntry, tid: number): boolean {
  return p.proc.threads.length ? threadOf(p, tid) !== undefined : tid === p.proc.pid;
}

/** An ended process whose exit status an agent holds (`<gpid>/wait` still answers). */
export interface EndedEntry {
  gpid: number;
  node: number;
  starttime: number;
  status: ExitStatus__Output;
  /** The user it ran as (0 from an agent that does not say: then only root reads its wait file). */
  uid: number;
}

/**
 * One refresh of the cluster: the cluster's root and every process of every up node keyed
 * by gpid, with global ppid, pgrp and session (spec section 1) and starttimes shifted to
 * the cluster btime (clock ticks); the exit statuses agents hold; the state of every node.
 */
export class ClusterTable {
  /** Processes in listing order (by gpid). */
  readonly processes = new Map<number, ProcessEntry>();
  readonly ended = new Map<number, EndedEntry>();
  readonly nodes = new Map<number, NodeEntry>();
  /** Per node: local pid -> origin, for processes started for a cluster request. */
  private readonly origins = new Map<number, Map<number, Origin__Output>>();

  /**
   * @param btime the cluster's reference boot time, seconds since the epoch.
   * @param generation increases with every refresh.
   */
  constructor(
    readonly btime: number,
    readonly generation: number,
    readonly builtAtMs: number,
  ) {}

  /** The global id of local process group `pgrp` of `node`, following origins. */
  globalGroup(node: number, pgrp: number): number {
    return this.followOrigin(node, pgrp, 'pgrp');
  }

  /** The global id of local session `session` of `node`, following origins. */
  globalSession(node: number, session: number): number {
    return this.followOrigin(node, session, 'session');
  }

  /** The global parent of local pid `pid` whose local parent is `ppid` (0: the cluster's root). */
  globalParent(node: number, pid: number, ppid: number): number {
    const origin = this.origins.get(node)?.get(pid);
    return origin ? encodeGpid(origin.node, origin.pid) : parentInView(node, ppid);
  }

  /**
   * Every process whose global process group is `gpgrp` (for signal-group). Group 0 is no
   * group (processes whose group lies outside their node's namespace show 0): no members.
   */
  groupMembers(gpgrp: number): ProcessEntry[] {
    if (gpgrp <= 0) return [];
    return [...this.processes.values()].filter((p) => p.pgrp === gpgrp);
  }

  /** Nodes that are up, by id. */
  upNodes(): NodeEntry[] {
    return [...this.nodes.values()].filter((n) => n.state === 'up');
  }

  /**
   * A group or session id leads to the requester's when the group (session) was created by
   * a process an agent started: such a process runs in a new session whose id is its pid.
   */
  private followOrigin(node: number, id: number, kind: 'pgrp' | 'session'): number {
    let n = node;
    let local = id;
    for (let hop = 0; hop < defaults.originMaxHops && local > 0; hop++) {
      const origin = this.origins.get(n)?.get(local);
      if (!origin) break;
      n = origin.node;
      local = origin[kind];
    }
    return translatePid(n, local);
  }

  /** Adds one node's snapshot; called once per up node, before `index`. */
  addOrigins(node: number, snap: Snapshot__Output): void {
    const map = new Map<number, Origin__Output>();
    for (const s of snap.started) {
      const o = s.origin;
      if (o && o.node !== 0 && o.pid !== 0) map.set(s.pid, o);
    }
    this.origins.set(node, map);
  }
}

/** The snapshot of one node, or why there is none. */
export type NodeResult =
  | {
      config: NodeConfig;
      snapshot: Snapshot__Output;
      /** The node's clock minus ours, ms (heartbeat), to date its snapshot here; 0 if unknown. */
      clockOffsetMs?: number;
    }
  | { config: NodeConfig; error: string; info?: NodeInfo__Output };

/**
 * Builds the merged table from the results of one refresh.
 * @param previous the table before: its reference boot time only moves earlier (so the
 *   rendered start times do not jump when a node goes down), and its parsed stat lines
 *   are reused for processes whose stat did not change.
 * @param onBadProcess told of a process whose stat cannot be parsed (it is left out).
 */
export function buildTable(
  results: readonly NodeResult[],
  previous: ClusterTable | undefined,
  generation: number,
  onBadProcess: (node: number, pid: number, err: Error) => void = () => {},
): ClusterTable {
  let btime = previous?.btime ?? Infinity;
  for (const r of results) {
    const info = 'snapshot' in r ? r.snapshot.node : r.info;
    if (info && info.bootTime > 0) btime = Math.min(btime, info.bootTime);
  }
  if (!Number.isFinite(btime)) btime = Math.floor(Date.now() / 1000);
  const table = new ClusterTable(btime, generation, Date.now());

  let cpus = 0; // CPUs of the up nodes before this one (render.ts numbers them in this order)
  for (const r of results) {
    const id = r.config.id;
    if (!('snapshot' in r)) {
      table.nodes.set(id, {
        config: r.config,
        state: 'down',
        info: r.info,
        startShift: 0,
        cpuOffset: 0,
        takenAtMs: 0,
        takenAtLocalMs: 0,
        error: r.error,
      });
      continue;
    }
    const info = r.snapshot.node!;
    const startShift = (info.bootTime - btime) * info.clockTicks;
    const cpuOffset = cpus;
    if (info.files) cpus += countCpus(info.files.stat);
    table.nodes.set(id, {
      config: r.config,
      state: 'up',
      info,
      startShift,
      cpuOffset,
      takenAtMs: r.snapshot.takenAtMs,
      takenAtLocalMs: r.snapshot.takenAtMs - (r.clockOffsetMs ?? 0),
    });
    table.addOrigins(id, r.snapshot);
  }

  const entries: ProcessEntry[] = [];
  for (const r of results) {
    if (!('snapshot' in r)) continue;
    const id = r.config.id;
    const shift = table.nodes.get(id)!.startShift;
    for (const proc of r.snapshot.processes) {
      // Most processes did not change since the last refresh: reuse their parsed stat.
      const before = previous?.processes.get(encodeGpid(id, proc.pid));
      let stat: PidStat;
      if (before && before.proc.stat.equals(proc.stat)) stat = before.stat;
      else {
        try {
          stat = parsePidStat(proc.stat);
        } catch (err) {
          onBadProcess(id, proc.pid, err as Error);
          continue;
        }
      }
      entries.push({
        gpid: encodeGpid(id, proc.pid),
        node: id,
        proc,
        stat,
        ppid: table.globalParent(id, proc.pid, stat.ppid),
        pgrp: table.globalGroup(id, stat.pgrp),
        session: table.globalSession(id, stat.session),
        tpgid: table.globalGroup(id, stat.tpgid),
        starttime: stat.starttime + shift,
      });
    }
    for (const e of r.snapshot.ended) {
      if (e.status)
        table.ended.set(encodeGpid(id, e.pid), {
          gpid: encodeGpid(id, e.pid),
          node: id,
          starttime: e.starttime,
          status: e.status,
          uid: e.uid,
        });
    }
  }
  entries.sort((a, b) => a.gpid - b.gpid);
  table.processes.set(ROOT_ENTRY.gpid, ROOT_ENTRY);
  for (const e of entries) table.processes.set(e.gpid, e);
  return table;
}

/** The number of `cpuN` lines of a /proc/stat file (bytes). */
function countCpus(stat: Buffer): number {
  return stat.toString('latin1').match(/^cpu\d+ /gm)?.length ?? 0;
}
