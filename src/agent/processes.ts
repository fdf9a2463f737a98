/**
 * Processes an agent starts for the cluster (spec section 5). Each is started through a
 * supervisor of its own, dist/gproc-shim (src/native/gproc-shim.c): the process's parent,
 * in a session of its own, that outlives the agent and records the process's start and end
 * on disk (process-records.ts). The process itself runs in a session and process group of
 * its own whose id is its pid, and its pid, comm and cmdline are the command's own. So the
 * processes belong to the node, not to a mount or to the agent's life: a restarted agent
 * loads the records, knows which running processes it started (and for whom) and holds the
 * statuses of those that ended meanwhile. A status is kept until it is read by its owner
 * or root (then for `defaults.exitStatusAfterReadMs`, so re-reads agree) or for
 * `defaults.exitStatusRetentionMs`, at most `defaults.maxHeldExitStatuses` of them; records
 * of another boot are dropped. See native-notes/durable-processes.md.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { ConfigError } from '../config';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import {
  markRecordRead,
  readBootId,
  readRecord,
  recordKey,
  removeRecord,
  type ExitStatus,
  type Origin,
  type ProcessRecord,
} from './process-records';
import { RpcError } from './rpc-error';
import { ProcessWatcher, readIdentity, runs } from './watcher';

export type { ExitStatus, Origin } from './process-records';

/** What to start: exactly one of argv and shellCommand. */
export interface SpawnSpec {
  argv: string[];
  shellCommand: string;
  /** The whole environment, "NAME=value" each. */
  env: string[];
  /** Working directory on this node; "" means "/". */
  cwd: string;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: number[];
  origin?: Origin;
  /** A run with a terminal (ssh -t): its size; the process's stdio is the terminal. */
  terminal?: TerminalSize;
}

/** A terminal's size in characters, each 1..65535. */
export interface TerminalSize {
  rows: number;
  cols: number;
}

/** A live process the agent started (in this life of the agent or an earlier one). */
export interface LiveProcess {
  pid: number;
  /** Clock ticks after boot (stat field 22). */
  starttime: number;
  /** The user it runs as: only it (or root) may consume its exit status. */
  uid: number;
  origin?: Origin;
  exited: Promise<ExitStatus>;
}

/** A process started by this agent: its supervisor is the agent's child. */
export interface StartedProcess extends LiveProcess {
  /**
   * The supervisor. Its stdin, stdout and stderr are the process's own (the supervisor
   * keeps no copy); it exits, and emits 'exit' and 'close', once the process ended and
   * its status is on disk.
   */
  child: ChildProcess;
  /** A run with a terminal: sets the terminal's size (the process gets SIGWINCH). */
  resize?(size: TerminalSize): void;
}

/** An ended process whose status is held. */
export interface EndedProcess {
  pid: number;
  starttime: number;
  uid: number;
  status: ExitStatus;
  /** Wall clock ms when it ended, and when its status was first read. */
  endedAt: number;
  readAt?: number;
}

interface LiveEntry extends LiveProcess {
  key: string;
  shim?: { pid: number; starttime: number };
  /** Whether the supervisor is this agent's child (its exit is an event), else it is followed. */
  attached: boolean;
  /** Whether a wait of the watcher's is pending for it (see follow). */
  following?: boolean;
  settle(status: ExitStatus): void;
}

interface EndedEntry extends EndedProcess {
  key: string;
}

export interface RegistryOptions {
  /** Root of the /proc tree (to tell whether a process or supervisor still runs). */
  procRoot: string;
  log: Logger;
  /** Environment every started process gets on top of its own (GPROC_NODE, GPROC_CONFIG). */
  extraEnv: Record<string, string>;
  /** The agent's state directory: records go to its processes/ (created if missing). */
  stateDir: string;
  /** The supervisor program (default: dist/gproc-shim next to the bundle). */
  shimPath?: string;
  /** The poller of /proc that says when a process is gone (default: one of its own). */
  watcher?: ProcessWatcher;
}

/**
 * Where the supervisor may be: next to the bundle (dist/gproc.js, where __dirname is
 * dist/), or in dist/ when this file runs from source (tests).
 */
export function defaultShimPath(): string {
  const candidates = [
    join(__dirname, 'gproc-shim'),
    join(__dirname, '..', '..', 'dist', 'gproc-shim'),
  ];
  return candidates.find((c) => existsSync(c)) ?? candidates[0];
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** The processes an agent started (spawn, run): their records on disk, and the statuses it holds. */
export class ProcessRegistry {
  private readonly live = new Map<string, LiveEntry>();
  private readonly ended = new Map<string, EndedEntry>();
  /** When the last process started (monotonic ms, performance.now()): see `listsEveryStart`. */
  private lastStartedAt = -Infinity;
  private readonly procRoot: string;
  private readonly log: Logger;
  private readonly extraEnv: Record<string, string>;
  /** Where the records are: <state dir>/processes. */
  readonly dir: string;
  private readonly shimPath: string;
  private readonly bootId: string;
  private readonly watcher: ProcessWatcher;
  /** Aborted by close: ends the waits that follow processes (follow). */
  private readonly closing = new AbortController();

  constructor(opts: RegistryOptions) {
    this.procRoot = opts.procRoot;
    this.log = opts.log;
    this.extraEnv = opts.extraEnv;
    this.dir = join(opts.stateDir, 'processes');
    this.shimPath = opts.shimPath ?? defaultShimPath();
    this.bootId = readBootId();
    this.watcher = opts.watcher ?? new ProcessWatcher(opts.procRoot);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.load();
    } catch (err) {
      throw new ConfigError(
        `cannot use the state directory ${opts.stateDir} (give --state-dir): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }

  /** Stops following processes (the records stay: the next agent reads them). */
  close(): void {
    this.closing.abort();
  }

  /**
   * Starts a process through a supervisor of its own, in a new session.
   * @param stdio 'ignore' for nodes/<id>/spawn, 'pipe' for gproc run.
   * @throws RpcError INVALID_ARGUMENT (empty command, bad environment), FAILED_PRECONDITION
   *   (working directory missing, supervisor failed), NOT_FOUND (program not found),
   *   PERMISSION_DENIED (not executable, or this uid may not be taken).
   */
  async start(spec: SpawnSpec, stdio: 'ignore' | 'pipe'): Promise<StartedProcess> {
    const argv = commandLine(spec);
    const env = environment(spec.env, this.extraEnv);
    const cwd = spec.cwd || '/';
    try {
      if (!statSync(cwd).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `working directory ${JSON.stringify(cwd)} does not exist on this node`,
      );
    }
    if (!findProgram(argv[0], env.PATH, cwd))
      throw new RpcError(status.NOT_FOUND, `${argv[0]}: command not found`);
    const request = shimRequest(this.dir, spec, cwd, argv, env);
    const child = spawn(this.shimPath, [], {
      cwd: '/',
      env: {},
      detached: true,
      stdio: [stdio, stdio, stdio, 'pipe'] as StdioOptions,
    });
    if (child.pid === undefined) {
      const err = await new Promise<NodeJS.ErrnoException>((resolve) =>
        child.once('error', resolve),
      );
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `cannot start the process supervisor ${this.shimPath}: ${err.code ?? err.message}`,
      );
    }
    child.on('error', (err) => this.log.warn({ err, shim: child.pid }, 'process supervisor error'));
    const control = child.stdio[3] as Duplex;
    const answer = await talk(control, request, spec.terminal !== undefined);
    const ok = /^ok (\d+) (\d+)\n$/.exec(answer);
    if (!ok) {
      for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
      throw shimError(argv[0], cwd, answer);
    }
    const pid = Number(ok[1]);
    const starttime = Number(ok[2]);
    this.lastStartedAt = performance.now();
    const entry = this.track(
      {
        pid,
        starttime,
        uid: spec.uid,
        origin: spec.origin,
        shim: { pid: child.pid, starttime: 0 },
      },
      true,
    );
    // Unless a reading found it ended first (settleUnlisted, heldStatus).
    child.once('exit', () => {
      if (this.live.get(entry.key) === entry) this.check(entry);
    });
    this.log.info(
      { pid, starttime, argv, uid: spec.uid, origin: spec.origin, shim: child.pid },
      'started process',
    );
    if (!spec.terminal) return Object.assign(entry, { child });
    // The supervisor's relay keeps its end of the socket for sizes; closed with the run.
    child.once('close', () => control.destroy());
    const resize = ({ rows, cols }: TerminalSize) => control.write(`winsize ${rows} ${cols}\n`);
    return Object.assign(entry, { child, resize });
  }

  /**
   * Whether a reading of /proc that began at `begunAt` (monotonic ms) lists every process
   * this agent started: one begun before the last start may miss it, and that process's
   * caller may already hold its gpid (a snapshot and a Watch stream's first message must
   * list it).
   */
  listsEveryStart(reading: { begunAt: number }): boolean {
    return reading.begunAt > this.lastStartedAt;
  }

  /** Live started processes (for the snapshot's global parents and groups). */
  started(): LiveProcess[] {
    return [...this.live.values()];
  }

  /**
   * Brings the registry up to a reading of /proc that listed `listed` (pid -> its record
   * there): a started process the reading did not list may have ended before the agent
   * noticed its supervisor's exit (the supervisor writes the status, reaps the process,
   * then exits), so its record is read now. Sent with that reading, every started process
   * is then either listed, live (it started after the reading began) or ended with its
   * status: never missing from all three, which a mount would answer with ENOENT for
   * `<gpid>/wait` of a process that ended at once.
   */
  settleUnlisted(listed: ReadonlyMap<number, { starttime: number }>): void {
    for (const entry of [...this.live.values()])
      if (listed.get(entry.pid)?.starttime !== entry.starttime) this.check(entry, true);
  }

  /** Held exit statuses (for the snapshot, so `<gpid>/wait` resolves after the process is gone). */
  endedProcesses(): EndedProcess[] {
    this.expire();
    return [...this.ended.values()];
  }

  /**
   * Waits for a process to end.
   * @param starttime its identity (0 = whichever process has the pid now).
   * @returns its exit status when the agent started it, else `{gone: true}` once it is gone.
   * @param signal aborts the wait (the caller went away).
   */
  async wait(pid: number, starttime: number, signal?: AbortSignal): Promise<ExitStatus> {
    const live = this.find(this.live, pid, starttime);
    if (live) {
      await live.exited;
      const done = this.ended.get(live.key);
      return done ? this.markRead(done) : { gone: true };
    }
    const held = this.find(this.ended, pid, starttime);
    if (held) return this.markRead(held);
    // Not ours: nobody here holds its status.
    await this.watcher.untilGone(pid, starttime, signal);
    return { gone: true };
  }

  /** The user a started process runs (or ran) as, if this agent started it. */
  owner(pid: number, starttime: number): number | undefined {
    return (this.find(this.live, pid, starttime) ?? this.find(this.ended, pid, starttime))?.uid;
  }

  /**
   * Status of a process that ended, if held (does not count as a read). A process the
   * agent started is reaped by its supervisor only once its record says how it ended, so
   * for one seen gone its record is read now (its supervisor's end may not be noticed yet).
   */
  heldStatus(pid: number, starttime: number): ExitStatus | undefined {
    const live = this.find(this.live, pid, starttime);
    if (live) this.check(live, true);
    return this.find(this.ended, pid, starttime)?.status;
  }

  /** The entry of (pid, starttime); with starttime 0, the latest of that pid. */
  private find<T extends { pid: number }>(
    map: Map<string, T>,
    pid: number,
    starttime: number,
  ): T | undefined {
    if (starttime !== 0) return map.get(recordKey(this.bootId, pid, starttime));
    let found: T | undefined;
    for (const p of map.values()) if (p.pid === pid) found = p;
    return found;
  }

  /** Reads the records: running processes are live again, ended ones held, other boots' dropped. */
  private load(): void {
    const ended: ProcessRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith('.')) {
        this.removeStaleTemporary(name);
        continue;
      }
      let record: ProcessRecord | undefined;
      try {
        record = readRecord(this.dir, name);
      } catch (err) {
        this.log.warn(
          { file: join(this.dir, name), err: (err as Error).message },
          'not a process record: left alone',
        );
        continue;
      }
      if (!record) continue;
      if (record.boot !== this.bootId) removeRecord(this.dir, name);
      else if (record.status) ended.push(record);
      else this.track(record, false);
    }
    ended.sort((a, b) => a.endedAt! - b.endedAt!);
    for (const r of ended)
      this.ended.set(r.key, {
        key: r.key,
        pid: r.pid,
        starttime: r.starttime,
        uid: r.uid,
        status: r.status!,
        endedAt: r.endedAt!,
        readAt: r.readAt,
      });
    this.expire();
    // Those that ended while no agent ran, and those whose end nobody will record, now.
    for (const entry of [...this.live.values()]) this.check(entry);
    if (this.live.size || ended.length)
      this.log.info({ live: this.live.size, ended: this.ended.size }, 'process records loaded');
  }

  /** A temporary file of a writer that is gone (a torn write) is removed. */
  private removeStaleTemporary(name: string): void {
    const writer = /^\.tmp\.(\d+)\./.exec(name);
    if (writer && readIdentity(this.procRoot, Number(writer[1]))) return; // still writing
    try {
      unlinkSync(join(this.dir, name));
    } catch {
      // gone meanwhile
    }
  }

  private track(
    p: Pick<ProcessRecord, 'pid' | 'starttime' | 'uid' | 'origin' | 'shim'>,
    attached: boolean,
  ): LiveEntry {
    let settle!: (s: ExitStatus) => void;
    const exited = new Promise<ExitStatus>((resolve) => (settle = resolve));
    const key = recordKey(this.bootId, p.pid, p.starttime);
    const entry: LiveEntry = {
      key,
      pid: p.pid,
      starttime: p.starttime,
      uid: p.uid,
      origin: p.origin,
      shim: p.shim,
      attached,
      exited,
      settle,
    };
    this.live.set(key, entry);
    if (!attached) this.follow(entry);
    return entry;
  }

  /**
   * Checks a live process whose supervisor is not this agent's child again once what it
   * depends on is gone: its supervisor, or, once that is gone, the process itself.
   */
  private follow(entry: LiveEntry): void {
    if (entry.following) return;
    entry.following = true;
    const { pid, starttime } = entry.shim ?? entry;
    void this.watcher.untilGone(pid, starttime, this.closing.signal, false).then(() => {
      entry.following = false;
      if (!this.closing.signal.aborted && this.live.get(entry.key) === entry) this.check(entry);
    });
  }

  /**
   * Learns whether a live process ended: once its supervisor is gone, its record says how.
   * A record still running then means the supervisor was killed: the process is followed
   * until it is gone, and its status is `gone` (nobody holds it).
   */
  private check(entry: LiveEntry, recordOnly = false): void {
    const shimRuns =
      !entry.attached &&
      entry.shim !== undefined &&
      runs(this.procRoot, entry.shim.pid, entry.shim.starttime);
    if (shimRuns && !recordOnly) return;
    let record: ProcessRecord | undefined;
    try {
      record = readRecord(this.dir, entry.key);
    } catch (err) {
      this.log.warn({ key: entry.key, err: (err as Error).message }, 'unreadable process record');
    }
    if (record?.status) {
      this.live.delete(entry.key);
      this.ended.delete(entry.key);
      this.ended.set(entry.key, {
        key: entry.key,
        pid: entry.pid,
        starttime: entry.starttime,
        uid: entry.uid,
        status: record.status,
        endedAt: record.endedAt!,
        readAt: record.readAt,
      });
      this.expire();
      entry.settle(record.status);
      return;
    }
    if (recordOnly) return;
    if (entry.attached)
      this.log.warn(
        { pid: entry.pid, shim: entry.shim?.pid },
        'the supervisor ended without recording a status',
      );
    // Its supervisor is gone and nobody will record how it ends: it is followed until gone.
    entry.attached = false;
    entry.shim = undefined;
    if (runs(this.procRoot, entry.pid, entry.starttime)) return this.follow(entry);
    this.live.delete(entry.key);
    removeRecord(this.dir, entry.key);
    entry.settle({ gone: true });
  }

  private markRead(held: EndedEntry): ExitStatus {
    if (held.readAt === undefined) {
      held.readAt = Date.now();
      try {
        markRecordRead(this.dir, held.key, held.readAt);
      } catch (err) {
        this.log.warn(
          { key: held.key, err: (err as Error).message },
          'cannot mark a process record read',
        );
      }
    }
    return held.status;
  }

  private expire(): void {
    const now = Date.now();
    for (const [key, p] of this.ended) {
      const old = now - p.endedAt > defaults.exitStatusRetentionMs;
      const readLongAgo = p.readAt !== undefined && now - p.readAt > defaults.exitStatusAfterReadMs;
      if (old || readLongAgo || this.ended.size > defaults.maxHeldExitStatuses) {
        this.ended.delete(key);
        try {
          removeRecord(this.dir, key);
        } catch (err) {
          this.log.warn({ key, err: (err as Error).message }, 'cannot remove a process record');
        }
      }
    }
  }
}

/**
 * The supervisor's request (src/native/gproc-shim.c): a header line, then NUL-ended fields
 * DIR UID GID NGROUPS GROUP... CWD NOTE ARGC ARG... ENVC ENV...
 */
function shimRequest(
  dir: string,
  spec: SpawnSpec,
  cwd: string,
  argv: string[],
  env: Record<string, string>,
): Buffer {
  const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  for (const s of [cwd, ...argv, ...envList]) {
    if (s.includes('\0'))
      throw new RpcError(
        status.INVALID_ARGUMENT,
        'a NUL byte in the command, its environment or its working directory',
      );
  }
  const o = spec.origin;
  const ids = (xs: number[]) => xs.every((x) => Number.isSafeInteger(x) && x >= 0);
  if (!ids([spec.uid, spec.gid, ...spec.groups]))
    throw new RpcError(status.INVALID_ARGUMENT, 'bad uid, gid or groups');
  const note =
    o && ids([o.node, o.pid, o.pgrp, o.session])
      ? `origin ${o.node} ${o.pid} ${o.pgrp} ${o.session}\n`
      : '';
  const fields = [
    dir,
    spec.uid,
    spec.gid,
    spec.groups.length,
    ...spec.groups,
    cwd,
    note,
    argv.length,
    ...argv,
    envList.length,
    ...envList,
    spec.terminal ? `${spec.terminal.rows} ${spec.terminal.cols}` : '',
  ];
  const body = Buffer.concat(fields.map((f) => Buffer.from(`${f}\0`)));
  return Buffer.concat([Buffer.from(`gproc-shim 2 ${body.length}\n`), body]);
}

/**
 * Sends the request and reads the supervisor's one-line answer ("" if it ended without one).
 * @param keep leave the socket open after the answer (a run with a terminal: sizes go on it).
 */
function talk(socket: Duplex, request: Buffer, keep = false): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      socket.removeAllListeners('data');
      if (!keep || !text.startsWith('ok ')) socket.destroy();
      resolve(text);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\n')) done();
    });
    socket.once('end', done);
    socket.once('close', done);
    socket.on('error', () => {}); // the supervisor ended early: its answer (or none) says why
    socket.write(request);
  });
}

/** The error a supervisor's answer "error STAGE ERRNO" stands for. */
function shimError(program: string, cwd: string, answer: string): RpcError {
  const m = /^error (\w+) (\d+)\n$/.exec(answer);
  if (!m)
    return new RpcError(
      status.FAILED_PRECONDITION,
      `${program}: cannot start: the process supervisor failed`,
    );
  const [, stage, errno] = m;
  const code = ERRNO_NAMES.get(Number(errno)) ?? `errno ${errno}`;
  switch (stage) {
    case 'exec':
      return spawnError(program, code);
    case 'setgroups':
    case 'setgid':
    case 'setuid':
      return spawnError(program, code === 'EPERM' ? 'EPERM' : `${stage} ${code}`);
    case 'chdir':
      return code === 'EACCES'
        ? new RpcError(
            status.PERMISSION_DENIED,
            `working directory ${JSON.stringify(cwd)} is not accessible to this user`,
          )
        : new RpcError(
            status.FAILED_PRECONDITION,
            `working directory ${JSON.stringify(cwd)} does not exist on this node`,
          );
    default:
      return new RpcError(status.FAILED_PRECONDITION, `${program}: cannot start: ${stage} ${code}`);
  }
}

/** argv to execute: the program and its arguments, or /bin/sh -c LINE. */
function commandLine(spec: SpawnSpec): string[] {
  const shell = spec.shellCommand.trim();
  if (spec.argv.length > 0 && shell)
    throw new RpcError(status.INVALID_ARGUMENT, 'give either argv or a shell command, not both');
  if (shell) return ['/bin/sh', '-c', spec.shellCommand];
  if (spec.argv.length === 0 || spec.argv[0] === '')
    throw new RpcError(status.INVALID_ARGUMENT, 'empty command');
  return spec.argv;
}

function environment(entries: string[], extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0)
      throw new RpcError(
        status.INVALID_ARGUMENT,
        `environment entry ${JSON.stringify(entry)} is not NAME=value`,
      );
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (!env.PATH) env.PATH = defaults.spawnPath;
  return { ...env, ...extra };
}

/** Whether `program` names an executable file, directly (with a slash) or in `path`. */
function findProgram(program: string, path: string | undefined, cwd: string): boolean {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return existsSync(resolve(cwd, program)); // exec says what else is wrong with it
  return (path ?? defaults.spawnPath)
    .split(':')
    .some((dir) => executable(`${dir || '.'}/${program}`));
}

function spawnError(program: string, code: string): RpcError {
  switch (code) {
    case 'ENOENT':
      return new RpcError(status.NOT_FOUND, `${program}: command not found`);
    case 'EACCES':
    case 'ENOEXEC':
    case 'EISDIR':
      return new RpcError(status.PERMISSION_DENIED, `${program}: cannot execute: ${code}`);
    case 'EPERM':
      return new RpcError(
        status.PERMISSION_DENIED,
        `${program}: the agent may not start processes as this user`,
      );
    default:
      return new RpcError(status.FAILED_PRECONDITION, `${program}: cannot start: ${code}`);
  }
}
