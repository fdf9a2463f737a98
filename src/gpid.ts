/**
 * Global PIDs (spec section 1).
 *
 * A process with local PID `pid` on node `node` has the global PID
 * `gpid = node * 2^22 + pid`. Node ids are 1..511 (9 bits) and local PIDs are
 * below 2^22 (Linux's PID_MAX_LIMIT), so every gpid fits a signed 32-bit pid_t.
 * 0 and -1 keep their meaning and are never translated.
 */

/** Bits of a gpid that hold the local PID. */
export const PID_BITS = 22;
/** Largest local PID Linux can hand out, plus one (PID_MAX_LIMIT = 2^22). */
export const PID_LIMIT = 1 << PID_BITS;
/** Largest node id: nine bits above the PID bits keep gpids inside int32. */
export const MAX_NODE_ID = 511;

/**
 * The gpid of the cluster's root (spec section 1): node 0's pid 1, which no node has (node
 * ids start at 1), so it never stands for a process of a node.
 */
export const ROOT_GPID = 1;

/** A gpid taken apart: the owning node and the PID in that node's namespace. */
export interface GlobalPid {
  node: number;
  pid: number;
}

/** Thrown for a malformed or out-of-range gpid; `message` is a one-line user error. */
export class GpidError extends Error {
  override name = 'GpidError';
}

/** True for a node id the cluster file may use (1..511). */
export function isNodeId(node: number): boolean {
  return Number.isInteger(node) && node >= 1 && node <= MAX_NODE_ID;
}

/**
 * The gpid of local PID `pid` on `node`.
 * @throws GpidError when node is outside 1..511 or pid outside 1..2^22-1.
 */
export function encodeGpid(node: number, pid: number): number {
  if (!isNodeId(node)) throw new GpidError(`node id ${node} is outside 1..${MAX_NODE_ID}`);
  if (!Number.isInteger(pid) || pid < 1 || pid >= PID_LIMIT) {
    throw new GpidError(`local pid ${pid} is outside 1..${PID_LIMIT - 1}`);
  }
  return node * PID_LIMIT + pid;
}

/**
 * Translates a PID-valued field read on `node` (ppid, pgrp, session, tpgid...):
 * 0 and negative values (-1 = none) are kept as they are; anything else is encoded.
 */
export function translatePid(node: number, pid: number): number {
  return pid <= 0 ? pid : node * PID_LIMIT + pid;
}

/**
 * Splits a gpid into node and local PID.
 * @throws GpidError when the value is not a gpid (below 2^22, or a node above 511).
 */
export function decodeGpid(gpid: number): GlobalPid {
  if (gpid === ROOT_GPID)
    throw new GpidError(`${gpid} is the cluster's root, not a process of any node`);
  if (!Number.isInteger(gpid) || gpid < PID_LIMIT) {
    throw new GpidError(`${gpid} is not a global pid (global pids start at ${PID_LIMIT})`);
  }
  const node = Math.floor(gpid / PID_LIMIT);
  if (node > MAX_NODE_ID) throw new GpidError(`${gpid} is beyond the last node (${MAX_NODE_ID})`);
  const pid = gpid % PID_LIMIT;
  if (pid === 0) throw new GpidError(`${gpid} names no process (local pid 0)`);
  return { node, pid };
}

/**
 * Parses a gpid as written on the command line: a decimal number ("4195538") or
 * `NODE:PID` ("1:1234").
 * @returns the numeric gpid.
 * @throws GpidError with a message naming the bad text.
 */
export function parseGpid(text: string): number {
  const s = text.trim();
  const colon = /^(\d+):(\d+)$/.exec(s);
  if (colon) return encodeGpid(Number(colon[1]), Number(colon[2]));
  if (!/^\d+$/.test(s))
    throw new GpidError(`"${text}" is not a global pid (expected a number or NODE:PID)`);
  const gpid = Number(s);
  decodeGpid(gpid);
  return gpid;
}

/** `NODE:PID` notation of a gpid, for messages. */
export function formatGpid(gpid: number): string {
  const { node, pid } = decodeGpid(gpid);
  return `${node}:${pid}`;
}
