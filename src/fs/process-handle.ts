/**
 * Handles bound to one process (spec section 4): what an open `<gpid>/ctl` or `<gpid>/wait`
 * refers to. The process is fixed when the file is opened, by its identity in the cluster
 * table: node, that node's boot time, pid and start time. Every later operation names that
 * identity, never "whatever has this gpid now", so:
 * - a signal through a handle whose process ended fails with ESRCH, even when a new
 *   process has the same pid (the agent compares the start time right before kill(2));
 * - a wait through it answers for that process (its held status, or `gone`).
 * Requests act for the process's owner, the owner of the file: the kernel let only it (or
 * root) open the file (default_permissions).
 */
import { defaults } from '../defaults';
import { decodeGpid, ROOT_GPID } from '../gpid';
import type { Cluster } from '../cluster/cluster';
import { groupFailures, signalGroup } from '../cluster/signal';
import type { ClusterTable, EndedEntry, ProcessEntry } from '../cluster/table';
import type { ActAs } from '../cluster/transport';
import type { ExitStatus__Output } from '../proto/gen/gproc/v1/ExitStatus';
import type { Logger } from '../log';
import { parseCtl } from './ctl';
import { E, FsError } from './errno';
import { renderExit } from './render';

/** One process of the cluster, as a handle names it. */
export interface BoundProcess {
  gpid: number;
  node: number;
  /** Its node's boot time when the handle was opened, seconds since the epoch (0: unknown). */
  bootTime: number;
  /** Node-local pid and start time (clock ticks after the node's boot, stat field 22). */
  pid: number;
  starttime: number;
  /** Its owner, who requests through the handle act for. */
  owner: ActAs;
  /** Its global process group at open (0: none), for `signal-group`. */
  pgrp: number;
  /** Its exit status, when it had already ended (and an agent held the status) at open. */
  ended?: ExitStatus__Output;
}

/** A listed process as a handle binds it. */
export function bindLive(p: ProcessEntry, table: ClusterTable): BoundProcess {
  return {
    gpid: p.gpid,
    node: p.node,
    bootTime: table.nodes.get(p.node)?.info?.bootTime ?? 0,
    pid: p.proc.pid,
    starttime: p.proc.starttime,
    owner: { uid: p.proc.uid, gid: p.proc.gid },
    pgrp: p.pgrp,
  };
}

/** An ended process whose status an agent holds, as a handle binds it (gid: unknown, 0). */
export function bindEnded(e: EndedEntry, table: ClusterTable): BoundProcess {
  const { pid } = decodeGpid(e.gpid);
  return {
    gpid: e.gpid,
    node: e.node,
    bootTime: table.nodes.get(e.node)?.info?.bootTime ?? 0,
    pid,
    starttime: e.starttime,
    owner: { uid: e.uid, gid: 0 },
    pgrp: 0,
    ended: e.status,
  };
}

/**
 * True when the node has booted again since `b` was bound: its pids and start times begin
 * anew, so they no longer name the process. A boot time read from /proc/stat may move by a
 * second with clock adjustments; `defaults.bootTimeSlackSeconds` allows for that.
 */
function rebooted(b: BoundProcess, table: ClusterTable | undefined): boolean {
  const now = table?.nodes.get(b.node)?.info?.bootTime ?? 0;
  return b.bootTime > 0 && now > 0 && Math.abs(now - b.bootTime) > defaults.bootTimeSlackSeconds;
}

/**
 * One write to a bound ctl handle: parses it (ctl.ts) and sends the signal to the bound
 * process, or to its global process group. Resolves when the owning node delivered it.
 * @param offset the file offset of the write (a command is written at 0).
 * @throws FsError EINVAL (malformed, ctl.ts), ESRCH (the process ended: gone, its pid
 *   reused, or its node rebooted; for a group: no member left), EPERM (refused for the
 *   owner; the cluster's root, gpid 1, refuses every signal from anyone), EHOSTDOWN (a
 *   node did not answer); gRPC errors of the call (errno.ts maps them).
 */
export async function signalThrough(
  cluster: Cluster,
  b: BoundProcess,
  data: Buffer,
  offset: number,
  log: Logger,
): Promise<void> {
  const cmd = parseCtl(data, offset);
  if (b.gpid === ROOT_GPID)
    throw new FsError(E.EPERM, `${ROOT_GPID} is the cluster itself: it takes no signal`);
  if (b.ended || rebooted(b, cluster.fresh())) throw new FsError(E.ESRCH, `${b.gpid} has ended`);
  if (cmd.verb === 'signal') {
    const client = cluster.clients.get(b.node);
    if (!client) throw new FsError(E.ESRCH, `${b.gpid}: no such node`);
    const [result] = await client.signal(
      { targets: [{ pid: b.pid, starttime: b.starttime }], signal: cmd.signal },
      b.owner,
    );
    if (result.outcome === 'NO_SUCH_PROCESS') throw new FsError(E.ESRCH, `${b.gpid} has ended`);
    if (result.outcome === 'NOT_PERMITTED') throw new FsError(E.EPERM, `${b.gpid}: not permitted`);
    return;
  }
  // signal-group: the freshest table, so that members started a moment ago are reached; the
  // bound process must still be in it (a group is reached through a live member).
  const table = await cluster.sync();
  const now = table.processes.get(b.gpid);
  if (!now || now.proc.starttime !== b.starttime || rebooted(b, table))
    throw new FsError(E.ESRCH, `${b.gpid} has ended`);
  if (b.pgrp <= 0) throw new FsError(E.ESRCH, `${b.gpid} has no process group in the cluster`);
  const result = await signalGroup(cluster, table, b.pgrp, cmd.signal, b.owner);
  log.info({ gpgrp: b.pgrp, signal: cmd.signal, ...result }, 'signal-group');
  const [failure] = groupFailures(result);
  switch (failure?.kind) {
    case 'unreachable':
      throw new FsError(E.EHOSTDOWN, `group ${b.pgrp}: node ${failure.node} did not answer`);
    case 'refused':
      throw new FsError(E.EPERM, `group ${b.pgrp}: not permitted for ${failure.gpid}`);
    case 'empty':
      throw new FsError(E.ESRCH, `group ${b.pgrp}: no process left`);
  }
}

/**
 * The answer of a bound wait handle: `exited N\n`, `killed SIGNAME\n` or `gone\n` (spec
 * section 5), at once for a process that had ended at open, else when it ends. Asks the
 * owning agent for that pid and start time, as the owner: a new process with the same pid
 * is never waited for.
 * @throws gRPC errors of the call (EHOSTDOWN when the node does not answer, EACCES when
 *   the status is not the owner's).
 */
export async function waitThrough(cluster: Cluster, b: BoundProcess): Promise<Buffer> {
  if (b.ended) return renderExit(b.ended);
  if (rebooted(b, cluster.fresh())) return renderExit({ gone: true });
  const client = cluster.clients.get(b.node);
  if (!client) throw new FsError(E.ENOENT, `${b.gpid}: no such node`);
  return renderExit(await client.wait({ pid: b.pid, starttime: b.starttime }, b.owner).result);
}
