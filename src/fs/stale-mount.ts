/**
 * Clearing what an earlier mount daemon left at a mount point, in bounded time, without
 * ever touching the old mounts (spec section 2). A mount of gproc is three mounts:
 *   MOUNTPOINT          FUSE (fuse.gproc), the cluster view
 *   <run>/control       FUSE (fuse.gproc), the control view
 *   <run>/proc          a procfs of this machine
 * and the daemon's record, `<run>/pid` ("<pid> <starttime>\n", root-owned), written before
 * it mounts anything.
 *
 * Any stat, readdir or path walk into the FUSE mount of a frozen daemon blocks for ever (in
 * a thread or a child alike, and unkillably). So the old mounts are found in
 * /proc/self/mountinfo only, the old daemon is judged by its record and /proc/<pid>/stat,
 * and a dead or frozen one's FUSE connections are ended through fusectl
 * (/sys/fs/fuse/connections/<dev>/abort: every request then fails with ENOTCONN) before
 * the mounts are detached with `umount --lazy --no-canonicalize`.
 *
 * What counts as what (daemonState):
 * - gone: no record, the pid does not exist, or is another process now (its starttime
 *   differs), or is a zombie (its descriptors, and so its FUSE connection, are closed);
 * - frozen: the process is stopped (state T, SIGSTOP/SIGTSTP; or t, stopped by a tracer);
 * - live: any other state (running, sleeping, even D). A daemon that runs but does not
 *   answer (an endless loop, an uninterruptible wait) cannot be told from a busy one
 *   without touching its mount, so it is refused as live: kill it, and the next start
 *   clears its mounts.
 * A gproc FUSE mount with no live or frozen recorded daemon is stale (every daemon writes
 * its record before it mounts). A mount of any other file system there is refused.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { parsePidStat } from '../procfs/stat';

/** One line of /proc/<pid>/mountinfo (proc(5)), fields unescaped. */
export interface MountInfoEntry {
  mountId: number;
  parentId: number;
  /** Device of the file system: for FUSE, major 0 and the connection's minor. */
  major: number;
  minor: number;
  /** Root of the mount within its file system. */
  root: string;
  mountPoint: string;
  /** File system type, e.g. "fuse.gproc", "proc", "fusectl". */
  fsType: string;
  source: string;
}

/** A mount point another gproc daemon serves (its message says which, and how to stop it). */
export class AlreadyMountedError extends Error {
  override name = 'AlreadyMountedError';
}

/** The daemon record of a mount: the daemon's pid and its starttime (clock ticks after boot). */
export interface DaemonRecord {
  pid: number;
  starttime: number;
}

export type DaemonState = 'live' | 'frozen' | 'gone';

/** Undoes the octal escapes of mountinfo (`\040` space, `\011` tab, `\012` newline, `\134` backslash). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses mountinfo text: `id parent major:minor root mountpoint options [optional...] - type source superoptions`.
 * Lines that do not have that shape are skipped (the kernel writes none).
 */
export function parseMountinfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    const dev = /^(\d+):(\d+)$/.exec(f[2] ?? '');
    if (f.length < 10 || dash < 0 || !dev || f.length < dash + 3) continue;
    out.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      major: Number(dev[1]),
      minor: Number(dev[2]),
      root: unescapeMountField(f[3]),
      mountPoint: unescapeMountField(f[4]),
      fsType: f[dash + 1],
      source: unescapeMountField(f[dash + 2]),
    });
  }
  return out;
}

/** The mounts at `dir` (an absolute, resolved path), bottom of the stack first. */
export function mountsAt(entries: readonly MountInfoEntry[], dir: string): MountInfoEntry[] {
  return entries.filter((e) => e.mountPoint === dir);
}

/** True for a FUSE mount of gproc (`fuse.gproc`, source `gproc`). */
export function isGprocFuse(e: MountInfoEntry): boolean {
  return e.fsType === 'fuse.gproc' || (e.fsType === 'fuse' && e.source === 'gproc');
}

/**
 * The fusectl connection number of a FUSE mount: the kernel's dev_t of its superblock
 * (major << 20 | minor), which for FUSE's anonymous devices (major 0) is the minor.
 * @returns undefined for a mount that is no FUSE mount.
 */
export function fuseConnection(e: MountInfoEntry): number | undefined {
  if (e.fsType !== 'fuse' && !e.fsType.startsWith('fuse.') && e.fsType !== 'fuseblk')
    return undefined;
  return e.major * 2 ** 20 + e.minor;
}

/** Parses a daemon record ("<pid> <starttime>\n"); undefined when it is not one. */
export function parseDaemonRecord(text: string): DaemonRecord | undefined {
  const m = /^(\d+) (\d+)\n?$/.exec(text);
  return m && Number(m[1]) > 0 ? { pid: Number(m[1]), starttime: Number(m[2]) } : undefined;
}

/** The state letter (proc(5) field 3) and starttime (field 22) of a pid, undefined when it does not exist. */
function processState(pid: number): { state: string; starttime: number } | undefined {
  try {
    const s = parsePidStat(readFileSync(`/proc/${pid}/stat`), `/proc/${pid}/stat`);
    return { state: s.state, starttime: s.starttime };
  } catch {
    return undefined;
  }
}

/**
 * Classifies a recorded daemon (see the module comment): from kill(pid, 0) and /proc/<pid>/stat.
 * Pure apart from those two reads.
 */
export function daemonState(rec: DaemonRecord | undefined): DaemonState {
  if (!rec) return 'gone';
  try {
    process.kill(rec.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  const p = processState(rec.pid);
  return classifyState(p, rec.starttime);
}

/** The decision of daemonState from what /proc gave (pure, tested on its own). */
export function classifyState(
  p: { state: string; starttime: number } | undefined,
  recordedStarttime: number,
): DaemonState {
  if (!p || p.starttime !== recordedStarttime) return 'gone';
  if (p.state === 'Z' || p.state === 'X' || p.state === 'x') return 'gone';
  if (p.state === 'T' || p.state === 't') return 'frozen';
  return 'live';
}

/** True when `pid` exists and is stopped (state T or t): frozen, in the sense of daemonState. */
export function isStopped(pid: number): boolean {
  const s = processState(pid)?.state;
  return s === 'T' || s === 't';
}

/** The file that records the daemon of the mount whose runtime directory is `run`. */
export const recordFile = (run: string) => `${run}/pid`;

/** The record in `run`, if it is a regular file owned by root (anything else is ignored). */
export function readDaemonRecord(run: string): DaemonRecord | undefined {
  const path = recordFile(run);
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.uid !== 0) return undefined;
    return parseDaemonRecord(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Records this process as the daemon of `run` (which must exist). */
export function recordDaemon(run: string): void {
  const me = processState(process.pid);
  writeFileSync(recordFile(run), `${process.pid} ${me?.starttime ?? 0}\n`, { mode: 0o644 });
}

/** True while the record of `run` names this process (not, after a takeover, a newer daemon). */
export function ownsMount(run: string): boolean {
  return readDaemonRecord(run)?.pid === process.pid;
}

/** Mounts fusectl at its place unless it is there. @returns whether it is mounted now. */
function ensureFusectl(entries: readonly MountInfoEntry[], log: Logger): boolean {
  if (entries.some((e) => e.fsType === 'fusectl' && e.mountPoint === defaults.fusectlDir))
    return true;
  try {
    execFileSync('mount', ['-t', 'fusectl', 'none', defaults.fusectlDir], {
      stdio: 'ignore',
      timeout: defaults.mountCommandMs,
    });
    return true;
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'cannot mount fusectl: stale FUSE connections are detached without being ended',
    );
    return false;
  }
}

/** Ends FUSE connection `conn`: its waiting requests and all later ones fail with ENOTCONN. */
function abortConnection(conn: number, log: Logger): void {
  try {
    writeFileSync(`${defaults.fusectlDir}/${conn}/abort`, '1');
  } catch (err) {
    // ENOENT: the connection is gone already (its daemon's descriptor closed).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      log.warn({ conn, err: (err as Error).message }, 'cannot abort FUSE connection');
  }
}

/** Detaches the top mount at `dir` without looking at it (no path resolution, no stat). */
function detach(dir: string): void {
  execFileSync('umount', ['--lazy', '--no-canonicalize', dir], {
    stdio: 'ignore',
    timeout: defaults.mountCommandMs,
  });
}

const readMountinfo = () => parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));

/**
 * Makes `mountPoint` and the runtime directory `run` ready for a new daemon: refuses when
 * a live gproc daemon has them, else ends and detaches every mount a dead or frozen one
 * left (the view, the control view, the procfs), touching none of them.
 * @param mountPoint absolute and resolved (path.resolve).
 * @returns the directories cleared (one entry per mount detached).
 * @throws AlreadyMountedError when a live daemon holds the record, or another file system
 *   (not gproc's) is mounted at `mountPoint` or the control mount point.
 */
export function clearStaleMounts(opts: { mountPoint: string; run: string; log: Logger }): string[] {
  const { mountPoint, run, log } = opts;
  const rec = readDaemonRecord(run);
  const state = rec && rec.pid !== process.pid ? daemonState(rec) : 'gone';
  if (state === 'live') {
    throw new AlreadyMountedError(
      `${mountPoint} is already mounted by gproc (pid ${rec!.pid}, running); stop it first (kill -INT ${rec!.pid})`,
    );
  }
  const fuseDirs = [mountPoint, `${run}/control`];
  const hostProc = `${run}/proc`;
  let entries = readMountinfo();
  for (const dir of fuseDirs) {
    const foreign = mountsAt(entries, dir).find((e) => !isGprocFuse(e));
    if (foreign)
      throw new AlreadyMountedError(
        `${dir} is already mounted (a ${foreign.fsType} file system, not gproc's); unmount it first`,
      );
  }
  const stale = fuseDirs.flatMap((d) => mountsAt(entries, d));
  const staleProc = mountsAt(entries, hostProc).filter((e) => e.fsType === 'proc');
  if (stale.length === 0 && staleProc.length === 0) return [];
  log.warn(
    { mountPoint, daemon: rec?.pid, state, mounts: stale.length + staleProc.length },
    'clearing the mounts of a dead or frozen daemon',
  );
  if (stale.length && ensureFusectl(entries, log)) {
    for (const e of stale) abortConnection(fuseConnection(e)!, log);
  }
  // Detach top to bottom; each pass re-reads mountinfo, so stacked mounts go one by one.
  const cleared: string[] = [];
  for (const dir of [...fuseDirs, hostProc]) {
    for (let n = mountsAt(entries, dir).length; n > 0; n--) {
      try {
        detach(dir);
        cleared.push(dir);
      } catch (err) {
        throw new Error(`cannot detach the stale mount at ${dir}: ${(err as Error).message}`);
      }
    }
    entries = readMountinfo();
  }
  return cleared;
}
