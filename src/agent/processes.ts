/**
 * Processes an agent starts for the cluster (spec section 5). They are the agent's
 * children, each in a session and process group of its own, so they belong to the agent
 * and not to whichever mount or CLI asked: a restarted mount loses nothing. The agent reaps
 * them and keeps their exit status until it is read (then for
 * `defaults.exitStatusAfterReadMs`, so re-reads agree) or for
 * `defaults.exitStatusRetentionMs`, at most `defaults.maxHeldExitStatuses` of them.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { status } from '@grpc/grpc-js';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import { RpcError } from './rpc-error';
import { readIdentity } from './watcher';

/** The requester of a process: it is shown as that process's parent, group and session. */
export interface Origin {
  node: number;
  pid: number;
  pgrp: number;
  session: number;
}

/** How a process ended (spec section 5): `exited N`, `killed SIGNAME` or `gone`. */
export type ExitStatus = { code: number } | { signal: string } | { gone: true };

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
}

/** A live process the agent started. */
export interface StartedProcess {
  pid: number;
  /** Clock ticks after boot (stat field 22). */
  starttime: number;
  /** The user it runs as: only it (or root) may consume its exit status. */
  uid: number;
  origin?: Origin;
  child: ChildProcess;
  exited: Promise<ExitStatus>;
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

/** The processes an agent started (spawn, run): it reaps them and holds their exit status (defaults.exitStatusRetentionMs). */
export class ProcessRegistry {
  private readonly live = new Map<number, StartedProcess>();
  private readonly ended = new Map<number, EndedProcess>();

  constructor(
    private readonly procRoot: string,
    private readonly log: Logger,
    /** Environment every started process gets on top of its own (GPROC_NODE, GPROC_CONFIG). */
    private readonly extraEnv: Record<string, string>,
  ) {}

  /**
   * Starts a process as the agent's child, in a new session.
   * @param stdio 'ignore' for nodes/<id>/spawn, 'pipe' for gproc run.
   * @throws RpcError INVALID_ARGUMENT (empty command, bad environment), FAILED_PRECONDITION
   *   (working directory missing), NOT_FOUND (program not found), PERMISSION_DENIED
   *   (not executable, or this uid may not be taken).
   */
  async start(spec: SpawnSpec, stdio: 'ignore' | 'pipe'): Promise<StartedProcess> {
    const argv = commandLine(spec);
    const env = environment(spec.env, this.extraEnv);
    const cwd = spec.cwd || '/';
    try {
      if (!statSync(cwd).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new RpcError(status.FAILED_PRECONDITION, `working directory ${JSON.stringify(cwd)} does not exist on this node`);
    }
    if (!findProgram(argv[0], env.PATH, cwd)) throw new RpcError(status.NOT_FOUND, `${argv[0]}: command not found`);
    // Node can set a uid and gid but drops every supplementary group; setpriv(1) sets all
    // three and then execs the command itself, so the started pid is the command's own.
    // The working directory is entered as the user, after setpriv (a shell's cd, then exec:
    // still the command's own pid). Entered by the agent, as root, it would hand the user a
    // directory whose path it may not search (/home/alice/pub under a 0700 /home/alice).
    const asUser =
      spec.uid === 0
        ? argv
        : ['setpriv', `--reuid=${spec.uid}`, `--regid=${spec.gid}`, spec.groups.length ? `--groups=${spec.groups.join(',')}` : '--clear-groups', '--', ...enterAsUser(resolve(cwd), argv)];
    const options = { cwd: spec.uid === 0 ? cwd : '/', env, detached: true, stdio: stdio as StdioOptions };
    let child: ChildProcess;
    try {
      child = spawn(asUser[0], asUser.slice(1), options);
    } catch (err) {
      throw new RpcError(status.INVALID_ARGUMENT, `cannot start ${JSON.stringify(argv[0])}: ${(err as Error).message}`);
    }
    if (child.pid === undefined) {
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
      throw spawnError(argv[0], err);
    }
    const pid = child.pid;
    // The child exists (at worst as a zombie not yet reaped): its start time is readable now.
    const starttime = readIdentity(this.procRoot, pid)?.starttime ?? 0;
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        const st: ExitStatus = code !== null ? { code } : { signal: signal ?? 'SIGKILL' };
        this.live.delete(pid);
        this.remember({ pid, starttime, uid: spec.uid, status: st, endedAt: Date.now() });
        resolve(st);
      });
    });
    child.on('error', (err) => this.log.warn({ err, pid }, 'child process error'));
    const record: StartedProcess = { pid, starttime, uid: spec.uid, origin: spec.origin, child, exited };
    this.live.set(pid, record);
    this.log.info({ pid, starttime, argv, uid: spec.uid, origin: spec.origin }, 'started process');
    return record;
  }

  /** Live started processes (for the snapshot's global parents and groups). */
  started(): StartedProcess[] {
    return [...this.live.values()];
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
    const held = this.ended.get(pid);
    if (held && (starttime === 0 || held.starttime === starttime)) return this.markRead(held);
    const live = this.live.get(pid);
    if (live && (starttime === 0 || live.starttime === starttime)) {
      await live.exited;
      const done = this.ended.get(pid);
      return done ? this.markRead(done) : { gone: true };
    }
    // Not ours: poll until it is gone (or a zombie: ended, its status its parent's); nobody
    // here holds its status.
    await new Promise<void>((resolve) => {
      const check = () => {
        const seen = readIdentity(this.procRoot, pid);
        if (!seen || seen.state === 'Z' || (starttime !== 0 && seen.starttime !== starttime) || signal?.aborted) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(check, defaults.processPollMs);
      check();
    });
    return { gone: true };
  }

  /** The user a started process runs (or ran) as, if this agent started it. */
  owner(pid: number, starttime: number): number | undefined {
    const p = this.ended.get(pid) ?? this.live.get(pid);
    return p && (starttime === 0 || p.starttime === starttime) ? p.uid : undefined;
  }

  /** Status of a process that ended, if held (does not count as a read). */
  heldStatus(pid: number, starttime: number): ExitStatus | undefined {
    const held = this.ended.get(pid);
    return held && (starttime === 0 || held.starttime === starttime) ? held.status : undefined;
  }

  private markRead(held: EndedProcess): ExitStatus {
    held.readAt ??= Date.now();
    return held.status;
  }

  private remember(p: EndedProcess): void {
    this.ended.delete(p.pid);
    this.ended.set(p.pid, p);
    this.expire();
  }

  private expire(): void {
    const now = Date.now();
    for (const [pid, p] of this.ended) {
      const old = now - p.endedAt > defaults.exitStatusRetentionMs;
      const readLongAgo = p.readAt !== undefined && now - p.readAt > defaults.exitStatusAfterReadMs;
      if (old || readLongAgo || this.ended.size > defaults.maxHeldExitStatuses) this.ended.delete(pid);
    }
  }
}

/** argv to execute: the program and its arguments, or /bin/sh -c LINE. */
function commandLine(spec: SpawnSpec): string[] {
  const shell = spec.shellCommand.trim();
  if (spec.argv.length > 0 && shell) throw new RpcError(status.INVALID_ARGUMENT, 'give either argv or a shell command, not both');
  if (shell) return ['/bin/sh', '-c', spec.shellCommand];
  if (spec.argv.length === 0 || spec.argv[0] === '') throw new RpcError(status.INVALID_ARGUMENT, 'empty command');
  return spec.argv;
}

function environment(entries: string[], extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new RpcError(status.INVALID_ARGUMENT, `environment entry ${JSON.stringify(entry)} is not NAME=value`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (!env.PATH) env.PATH = defaults.spawnPath;
  return { ...env, ...extra };
}

/** argv that enters `dir` and execs `argv` (run after the ids are the user's). */
function enterAsUser(dir: string, argv: string[]): string[] {
  return ['/bin/sh', '-c', 'cd -P -- "$1" || exit 126; shift; exec "$@"', 'gproc-cwd', dir, ...argv];
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
  return (path ?? defaults.spawnPath).split(':').some((dir) => executable(`${dir || '.'}/${program}`));
}

function spawnError(program: string, err: NodeJS.ErrnoException): RpcError {
  switch (err.code) {
    case 'ENOENT':
      return new RpcError(status.NOT_FOUND, `${program}: command not found`);
    case 'EACCES':
    case 'ENOEXEC':
    case 'EISDIR':
      return new RpcError(status.PERMISSION_DENIED, `${program}: cannot execute: ${err.code}`);
    case 'EPERM':
      return new RpcError(status.PERMISSION_DENIED, `${program}: the agent may not start processes as this user`);
    default:
      return new RpcError(status.FAILED_PRECONDITION, `${program}: cannot start: ${err.code ?? err.message}`);
  }
}
