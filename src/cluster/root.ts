/**
 * The cluster's root (spec section 1): gpid 1, a process-like entry that stands for the
 * cluster itself, so that the view has a PID 1 as every /proc does. Tools start their
 * trees there (`pstree` with no argument), and procps's ps finds at least one process even
 * when every node is down.
 *
 * gpid 1 is node 0's pid 1 (`0 << 22 | 1`): node ids start at 1, so no process of any node
 * has it. The entry is an ordinary ProcessEntry of the merged table (node 0, which is no
 * node), whose files are written here in proc(5) format: comm `cluster`, owner root, state
 * S, one thread, no command line, started at the cluster's btime (starttime 0), no
 * memory, no CPU time, no parent (ppid 0), its own process group and session (1, as
 * init's). Rendering it needs no special case: translating a PID of node 0 keeps it as
 * it is. Every process whose parent is 0 on its node (the node's PID 1, and processes
 * whose parent lies outside the node's PID namespace) has this entry as its parent.
 *
 * What the entry refuses: signals (its ctl answers EPERM to everyone, root included: there
 * is no process to deliver them to); `wait`, `node`, `usage` and the files read from an
 * agent (`io` is all zeros instead) are not there.
 */
import { ROOT_GPID, translatePid } from '../gpid';
import { SNAPSHOT_FILES, type SnapshotBytes } from '../procfs/files';
import { parsePidStat } from '../procfs/stat';
import type { Process__Output } from '../proto/gen/gproc/v1/Process';
import type { ProcessEntry } from './table';

/** The node id its gpid decodes to: 0, which no node has. */
const ROOT_NODE = 0;
/** Its comm (stat field 2, status Name). */
const ROOT_COMM = 'cluster';

/**
 * stat (proc(5)): pid 1, state S, ppid 0, pgrp and session 1, no tty (tty_nr 0, tpgid -1),
 * flags as a user process's (PF_SUPERPRIV | PF_RANDOMIZE), every counter 0, priority 20,
 * one thread, starttime 0, rsslim unlimited, exit_signal SIGCHLD: 52 fields.
 */
const STAT =
  `${ROOT_GPID} (${ROOT_COMM}) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 ` +
  '18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n';

/** status (proc(5)): the lines procps and psutil read; no Vm* lines, as for a process with no memory. */
const STATUS = [
  `Name:\t${ROOT_COMM}`,
  'Umask:\t0022',
  'State:\tS (sleeping)',
  `Tgid:\t${ROOT_GPID}`,
  'Ngid:\t0',
  `Pid:\t${ROOT_GPID}`,
  'PPid:\t0',
  'TracerPid:\t0',
  'Uid:\t0\t0\t0\t0',
  'Gid:\t0\t0\t0\t0',
  'FDSize:\t0',
  'Groups:\t ',
  `NStgid:\t${ROOT_GPID}`,
  `NSpid:\t${ROOT_GPID}`,
  'NSpgid:\t1',
  'NSsid:\t1',
  'Threads:\t1',
  'SigQ:\t0/0',
  'SigPnd:\t0000000000000000',
  'ShdPnd:\t0000000000000000',
  'SigBlk:\t0000000000000000',
  'SigIgn:\t0000000000000000',
  'SigCgt:\t0000000000000000',
  'CapInh:\t0000000000000000',
  'CapPrm:\t0000000000000000',
  'CapEff:\t0000000000000000',
  'CapBnd:\t0000000000000000',
  'CapAmb:\t0000000000000000',
  'NoNewPrivs:\t0',
  'Seccomp:\t0',
  'voluntary_ctxt_switches:\t0',
  'nonvoluntary_ctxt_switches:\t0',
  '',
].join('\n');

/** statm (proc(5)): size resident shared text lib data dt, pages: all 0. */
const STATM = '0 0 0 0 0 0 0\n';

/** cgroup (cgroups(7), v2): the root of the hierarchy. */
const CGROUP = '0::/\n';

/** io (proc(5)): every counter 0. Mode 0400, owner root, as Linux's /proc/1/io. */
export const ROOT_IO = Buffer.from(
  'rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\n' +
    'cancelled_write_bytes: 0\n',
);

const latin1 = (s: string) => Buffer.from(s, 'latin1');

/** The root's files as an agent would send them for a process (any other snapshot file: empty). */
const PROC: Process__Output = {
  ...(Object.fromEntries(SNAPSHOT_FILES.map((name) => [name, Buffer.alloc(0)])) as SnapshotBytes),
  pid: ROOT_GPID,
  starttime: 0,
  uid: 0,
  gid: 0,
  stat: latin1(STAT),
  status: latin1(STATUS),
  statm: latin1(STATM),
  cmdline: Buffer.alloc(0),
  environ: Buffer.alloc(0),
  cgroup: latin1(CGROUP),
  threads: [],
};

/**
 * The root as an entry of the merged table. Its files do not change (its starttime is 0
 * whatever the cluster's btime), so one entry serves every table.
 */
export const ROOT_ENTRY: ProcessEntry = {
  gpid: ROOT_GPID,
  node: ROOT_NODE,
  proc: PROC,
  stat: parsePidStat(PROC.stat),
  ppid: 0,
  pgrp: 1,
  session: 1,
  tpgid: -1,
  starttime: 0,
};

/**
 * The parent a process of `node` has in the view when its node-local parent is `ppid`:
 * the cluster's root for 0 (the node's PID 1, or a parent outside the node's PID
 * namespace), else the gpid of that parent. -1 and other negatives stay.
 */
export function parentInView(node: number, ppid: number): number {
  return ppid === 0 ? ROOT_GPID : translatePid(node, ppid);
}
