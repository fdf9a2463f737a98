/**
 * The gproc.v1.Agent service over one node's /proc (issue 2, spec sections 2, 4, 5).
 * Every handler validates its request, answers gRPC status codes (NOT_FOUND for a gone or
 * reused process, INVALID_ARGUMENT for a bad request) and never lets an exception escape:
 * unexpected failures go out as INTERNAL without details and are logged here.
 */
import { status, type ServerDuplexStream, type ServerWritableStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import pidusage from 'pidusage';
import { constants } from 'node:os';
import { statSync } from 'node:fs';
import { PID_LIMIT } from '../gpid';
import type { Logger } from '../log';
import { readWhole } from '../procfs/read';
import type { AgentHandlers } from '../proto';
import type { ProcessFileName } from '../proto/gen/gproc/v1/ProcessFileName';
import type { ProcessRef__Output } from '../proto/gen/gproc/v1/ProcessRef';
import type { RunInput__Output } from '../proto/gen/gproc/v1/RunInput';
import type { RunOutput } from '../proto/gen/gproc/v1/RunOutput';
import type { ProcessEvent } from '../proto/gen/gproc/v1/ProcessEvent';
import type { SpawnRequest__Output } from '../proto/gen/gproc/v1/SpawnRequest';
import { deliverSignal } from './deliver';
import type { LoopbackCallers } from './peer';
import { ProcessRegistry, type SpawnSpec, type StartedProcess } from './processes';
import { ReaderPool } from './reader-pool';
import { RpcError, toServiceError } from './rpc-error';
import { readNodeInfo, takeSnapshot, type NodeIdentity } from './snapshot';
import { ProcessWatcher, readIdentity, type SeenProcess } from './watcher';

/** The only per-process files the service reads: a request names an enum, never a path. */
const PROCESS_FILES: Partial<Record<ProcessFileName, string>> = {
  STAT: 'stat',
  STATUS: 'status',
  STATM: 'statm',
  CMDLINE: 'cmdline',
  COMM: 'comm',
  ENVIRON: 'environ',
  CGROUP: 'cgroup',
  IO: 'io',
};

/** Files /proc shows only to the process's owner (mode 0400, proc(5)). */
const PRIVATE_FILES = new Set<ProcessFileName>(['ENVIRON', 'IO']);

const SIGNAL_NUMBERS = new Set<number>([0, ...Object.values(constants.signals)]);

export interface AgentServiceOptions {
  node: NodeIdentity;
  /** Root of the /proc tree served ("/proc"; a fixture tree in tests). */
  procRoot: string;
  log: Logger;
  /** Environment added to every started process (GPROC_NODE, GPROC_CONFIG). */
  childEnv: Record<string, string>;
  /** Worker threads reading /proc for snapshots (0 in tests that run from source). */
  readerThreads: number;
  /**
   * The callers on a plaintext loopback agent's connections (their uids come from the
   * kernel); undefined over mutual TLS, where a caller is trusted to say its uid.
   */
  callers?: LoopbackCallers;
}

/** Builds the handlers; `registry` holds the processes the agent started. */
export function createAgentService(opts: AgentServiceOptions): {
  handlers: AgentHandlers;
  registry: ProcessRegistry;
  close(): Promise<unknown>;
} {
  const { node, procRoot, log } = opts;
  const registry = new ProcessRegistry(procRoot, log, opts.childEnv);
  const watcher = new ProcessWatcher(procRoot);
  const pool = new ReaderPool(procRoot, opts.readerThreads, (err) => log.error({ err: err.message }, 'snapshot reader thread failed; reading on the main thread'));
  const authorize = authorizer(opts.callers);
  /**
   * Whose private files (environ, io) a caller may read: undefined for anyone's (root, or
   * any caller over TLS), -1 for nobody's (a caller the kernel does not name).
   */
  const privateFilesOf = (peer: string): number | undefined => {
    if (!opts.callers) return undefined;
    const caller = opts.callers.caller(peer);
    if (!caller) return -1;
    return caller.uid === 0 ? undefined : caller.uid;
  };
  /** A spawn request as the registry takes it, once the caller may act for its uid and gid. */
  const spawnSpec = (req: SpawnRequest__Output, peer: string): SpawnSpec => {
    authorize(peer, req.uid, req.gid);
    return toSpawnSpec(req);
  };

  /** Wraps a unary handler: RpcErrors go out with their code, anything else as INTERNAL. */
  function unary<Req, Res>(name: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      Promise.resolve()
        .then(() => fn(call.request, call))
        .then(
          (res) => callback(null, res),
          (err) => callback(toServiceError(err, log, name)),
        );
    };
  }

  const handlers: AgentHandlers = {
    GetNodeInfo: unary('GetNodeInfo', () => readNodeInfo(procRoot, node)),

    GetSnapshot: unary('GetSnapshot', async (_req, call) => {
      const snapshot = await takeSnapshot(procRoot, node, pool, registry, log);
      const uid = privateFilesOf(call.getPeer());
      if (uid === undefined) return snapshot;
      // Other users' environments stay private, as in /proc.
      const processes = snapshot.processes!.map((p) => (p.uid === uid ? p : { ...p, environ: Buffer.alloc(0) }));
      return { ...snapshot, processes };
    }),

    ReadProcessFile: unary('ReadProcessFile', (req, call) => {
      const ref = checkRef(req.process);
      const name = PROCESS_FILES[req.file];
      if (!name) throw new RpcError(status.INVALID_ARGUMENT, `unknown process file ${JSON.stringify(req.file)}`);
      if (req.tid !== 0 && (req.tid < 1 || req.tid >= PID_LIMIT)) throw new RpcError(status.INVALID_ARGUMENT, `bad tid ${req.tid}`);
      checkIdentity(procRoot, ref);
      const reader = PRIVATE_FILES.has(req.file) ? privateFilesOf(call.getPeer()) : undefined;
      if (reader !== undefined && ownerOf(`${procRoot}/${ref.pid}`) !== reader) {
        throw new RpcError(status.PERMISSION_DENIED, `${name} of ${ref.pid} is not readable`);
      }
      const dir = req.tid ? `${procRoot}/${ref.pid}/task/${req.tid}` : `${procRoot}/${ref.pid}`;
      let content: Buffer | null;
      try {
        content = readWhole(`${dir}/${name}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM') throw new RpcError(status.PERMISSION_DENIED, `${name} of ${ref.pid} is not readable`);
        throw err;
      }
      if (!content) throw new RpcError(status.NOT_FOUND, `process ${ref.pid} is gone`);
      return { content };
    }),

    GetUsage: unary('GetUsage', async (req) => {
      const ref = checkRef(req);
      checkIdentity(procRoot, ref);
      try {
        const u = await pidusage(ref.pid);
        return { cpuPercent: u.cpu, memoryBytes: u.memory, elapsedMs: u.elapsed };
      } catch {
        throw new RpcError(status.NOT_FOUND, `process ${ref.pid} is gone`);
      } finally {
        pidusage.clear();
      }
    }),

    Signal: unary('Signal', (req, call) => {
      if (!SIGNAL_NUMBERS.has(req.signal)) throw new RpcError(status.INVALID_ARGUMENT, `unknown signal number ${req.signal}`);
      if (req.targets.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'no target');
      authorize(call.getPeer(), req.uid);
      const who = { uid: req.uid, node: req.requesterNode };
      return {
        results: req.targets.map((t) => {
          const ref = checkRef(t);
          return { target: ref, outcome: deliverSignal(procRoot, ref, req.signal, who, log) };
        }),
      };
    }),

    Spawn: unary('Spawn', async (req, call) => {
      const p = await registry.start(spawnSpec(req, call.getPeer()), 'ignore');
      return { pid: p.pid, starttime: p.starttime };
    }),

    Wait: unary('Wait', async (req, call) => {
      const ref = checkRef(req);
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      return registry.wait(ref.pid, ref.starttime, abort.signal);
    }),

    Run: (call) => run(call, registry, spawnSpec, log),

    Events: (call) => events(call, watcher, registry),
  };
  return { handlers, registry, close: () => pool.close() };
}

/**
 * The check that a caller (`call.getPeer()`) may act for `uid` (and `gid`). Over TLS
 * (`callers` undefined) every caller may. On a plaintext loopback agent the kernel names the
 * uid owning the caller's socket (peer.ts): root may act for anyone, another user only for
 * itself, and a caller the kernel does not name for no one.
 * The check throws RpcError PERMISSION_DENIED when the caller may not.
 */
function authorizer(callers: LoopbackCallers | undefined): (peer: string, uid: number, gid?: number) => void {
  return (peer, uid, gid) => {
    if (!callers) return;
    const caller = callers.caller(peer);
    if (caller === undefined) throw new RpcError(status.PERMISSION_DENIED, `cannot tell which user is calling from ${peer}`);
    if (caller.uid === 0) return;
    if (uid !== caller.uid) throw new RpcError(status.PERMISSION_DENIED, `uid ${caller.uid} may not act for uid ${uid}`);
    if (gid !== undefined && gid !== caller.gid) throw new RpcError(status.PERMISSION_DENIED, `uid ${caller.uid} may not act for gid ${gid}`);
  };
}

function toSpawnSpec(req: SpawnRequest__Output): SpawnSpec {
  const o = req.origin;
  return {
    argv: req.argv,
    shellCommand: req.shellCommand,
    env: req.env,
    cwd: req.cwd,
    uid: req.uid,
    gid: req.gid,
    origin: o && o.node !== 0 ? { node: o.node, pid: o.pid, pgrp: o.pgrp, session: o.session } : undefined,
  };
}

function checkRef(ref: ProcessRef__Output | null | undefined): ProcessRef__Output {
  if (!ref || !Number.isInteger(ref.pid) || ref.pid < 1 || ref.pid >= PID_LIMIT) {
    throw new RpcError(status.INVALID_ARGUMENT, `bad pid ${ref?.pid}`);
  }
  return ref;
}

/** @throws RpcError NOT_FOUND when the process is gone or its pid was reused. */
function checkIdentity(procRoot: string, ref: ProcessRef__Output): SeenProcess {
  const seen = readIdentity(procRoot, ref.pid);
  if (!seen || (ref.starttime !== 0 && seen.starttime !== ref.starttime)) {
    throw new RpcError(status.NOT_FOUND, `process ${ref.pid} is gone`);
  }
  return seen;
}

/**
 * gproc run: the first message starts the process; stdin flows in, stdout and stderr
 * flow out, both ways with back-pressure (a full peer pauses the source); the last message
 * is the exit status. A cancelled call (the client went away) hangs the process group up.
 */
function run(
  call: ServerDuplexStream<RunInput__Output, RunOutput>,
  registry: ProcessRegistry,
  spawnSpec: (req: SpawnRequest__Output, peer: string) => SpawnSpec,
  log: Logger,
): void {
  let proc: StartedProcess | undefined;
  let started = false;
  const fail = (err: unknown) => call.emit('error', toServiceError(err, log, 'Run'));
  const signalGroup = (sig: number) => {
    if (!proc) return;
    try {
      process.kill(-proc.pid, sig);
    } catch {
      // the group is gone already
    }
  };

  call.on('data', (msg: RunInput__Output) => {
    if (msg.kind === 'start') {
      if (started) return fail(new RpcError(status.INVALID_ARGUMENT, 'start sent twice'));
      started = true;
      call.pause();
      Promise.resolve()
        .then(() => registry.start(spawnSpec(msg.start!, call.getPeer()), 'pipe'))
        .then((p) => {
          proc = p;
          attachOutput(call, p);
          call.write({ started: { pid: p.pid, starttime: p.starttime } });
          call.resume();
        }, fail);
      return;
    }
    if (!proc) return fail(new RpcError(status.INVALID_ARGUMENT, 'the first message must be start'));
    const stdin = proc.child.stdin!;
    if (msg.kind === 'stdin') {
      if (!stdin.writable) return;
      if (!stdin.write(msg.stdin)) {
        call.pause();
        stdin.once('drain', () => call.resume());
      }
    } else if (msg.kind === 'stdinEof') {
      stdin.end();
    } else if (msg.kind === 'signal') {
      const sig = msg.signal ?? -1;
      if (!SIGNAL_NUMBERS.has(sig)) return fail(new RpcError(status.INVALID_ARGUMENT, `unknown signal number ${sig}`));
      signalGroup(sig);
    }
  });
  // The caller went away: hang the process group up, and close its pipes so that a process
  // that ignores SIGHUP gets EPIPE (as over ssh) instead of blocking on a full pipe.
  const hangUp = () => {
    signalGroup(constants.signals.SIGHUP);
    for (const s of [proc?.child.stdin, proc?.child.stdout, proc?.child.stderr]) s?.destroy();
  };
  call.on('cancelled', hangUp);
  call.on('error', hangUp);
}

function attachOutput(call: ServerDuplexStream<RunInput__Output, RunOutput>, p: StartedProcess): void {
  const { stdout, stderr, stdin } = p.child;
  stdin!.on('error', () => {}); // the process closed its stdin: further input is dropped
  const sources = [stdout!, stderr!];
  const forward = (kind: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (!call.write(kind === 'stdout' ? { stdout: chunk } : { stderr: chunk })) {
      for (const s of sources) s.pause();
      call.once('drain', () => sources.forEach((s) => s.resume()));
    }
  };
  stdout!.on('data', forward('stdout'));
  stderr!.on('data', forward('stderr'));
  p.child.once('close', () => {
    p.exited.then((st) => {
      call.write({ exit: st });
      call.end();
    });
  });
}

/** Streams START and EXIT events of this node until the caller goes away. */
function events(call: ServerWritableStream<unknown, ProcessEvent>, watcher: ProcessWatcher, registry: ProcessRegistry): void {
  const send = (kind: 'START' | 'EXIT') => (p: SeenProcess) => {
    const status = kind === 'EXIT' ? (registry.heldStatus(p.pid, p.starttime) ?? { gone: true }) : undefined;
    call.write({ kind, pid: p.pid, starttime: p.starttime, ppid: p.ppid, comm: Buffer.from(p.comm, 'latin1'), status, timeMs: Date.now() });
  };
  const onStart = send('START');
  const onExit = send('EXIT');
  watcher.on('start', onStart);
  watcher.on('exit', onExit);
  watcher.acquire();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    watcher.off('start', onStart);
    watcher.off('exit', onExit);
    watcher.release();
  };
  call.once('cancelled', stop);
  call.once('close', stop);
}


/** The uid owning a /proc/<pid> directory (root for a process that is not dumpable); -2 if it is gone. */
function ownerOf(dir: string): number {
  try {
    return statSync(dir).uid;
  } catch {
    return -2;
  }
}
