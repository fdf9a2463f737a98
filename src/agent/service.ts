/**
 * The gproc.v1.Agent service over one node's /proc (issue 2, spec sections 2, 4, 5).
 * Every handler validates its request, answers gRPC status codes (NOT_FOUND for a gone or
 * reused process, INVALID_ARGUMENT for a bad request) and never lets an exception escape:
 * unexpected failures go out as INTERNAL without details and are logged here.
 */
import {
  status,
  type ServerDuplexStream,
  type ServerWritableStream,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
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
import type { Snapshot } from '../proto/gen/gproc/v1/Snapshot';
import { defaults } from '../defaults';
import { seal, type Sealer } from '../identity/credential';
import type { Audit } from './audit';
import { deliverSignal } from './deliver';
import { checkCount, checkSpawnBounds } from './limits';
import type { Policy, Principal, Viewer } from './policy';
import { ProcessRegistry, type SpawnSpec, type StartedProcess } from './processes';
import { ReaderPool } from './reader-pool';
import { RpcError, toServiceError } from './rpc-error';
import { readNodeInfo, takeSnapshot, type NodeIdentity } from './snapshot';
import { ProcessWatcher, readIdentity, type SeenProcess } from './watcher';
import { listPids } from '../procfs/read';
import { parsePidStat } from '../procfs/stat';

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
  audit: Audit;
  /** Who may do what (policy.ts). */
  policy: Policy;
  /** This node's key and certificate, to seal credentials with (undefined without TLS). */
  sealer?: Sealer;
  /** Environment added to every started process (GPROC_NODE, GPROC_CONFIG). */
  childEnv: Record<string, string>;
  /** Worker threads reading /proc for snapshots (0 in tests that run from source). */
  readerThreads: number;
  /** The agent's state directory: records of the processes it started (processes.ts). */
  stateDir: string;
}

/** Builds the handlers; `registry` holds the processes the agent started. */
export function createAgentService(opts: AgentServiceOptions): {
  handlers: AgentHandlers;
  registry: ProcessRegistry;
  close(): Promise<unknown>;
} {
  const { node, procRoot, log, policy, audit } = opts;
  const registry = new ProcessRegistry({
    procRoot,
    log,
    extraEnv: opts.childEnv,
    stateDir: opts.stateDir,
  });
  const watcher = new ProcessWatcher(procRoot);
  const pool = new ReaderPool(procRoot, opts.readerThreads, (err) =>
    log.error({ err: err.message }, 'snapshot reader thread failed; reading on the main thread'),
  );
  // Concurrent snapshot calls share one reading of /proc: a flood of them costs one.
  let snapshotting: Promise<Snapshot> | undefined;
  const snapshot = () =>
    (snapshotting ??= takeSnapshot(procRoot, node, pool, registry, log).finally(
      () => (snapshotting = undefined),
    ));

  /** A spawn request as the registry takes it, once `who` is admitted and the request is within bounds. */
  const spawnSpec = (req: SpawnRequest__Output, who: Principal, method: string): SpawnSpec => {
    checkSpawnBounds(req);
    policy.admit(who, method);
    return {
      argv: req.argv,
      shellCommand: req.shellCommand,
      env: req.env,
      cwd: req.cwd,
      uid: who.uid,
      gid: who.gid,
      groups: who.groups,
      origin: who.origin,
    };
  };
  const auditStart = (
    action: 'spawn' | 'run',
    who: Principal,
    req: SpawnRequest__Output,
    result: string,
    pid?: number,
  ) =>
    audit.record({
      action,
      node: who.node,
      uid: who.uid,
      via: who.via,
      command: req.shellCommand ? ['/bin/sh', '-c', req.shellCommand] : req.argv.slice(0, 64),
      pid,
      result,
    });

  /** Wraps a unary handler: RpcErrors go out with their code, anything else as INTERNAL. */
  function unary<Req, Res>(
    name: string,
    fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
  ) {
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
    GetNodeInfo: unary('GetNodeInfo', (_req, call) => {
      policy.viewer(call, 'GetNodeInfo');
      return readNodeInfo(procRoot, node);
    }),

    GetSnapshot: unary('GetSnapshot', async (_req, call) => {
      const viewer = policy.viewer(call, 'GetSnapshot');
      const snap = await snapshot();
      if (viewer.uid === undefined) return snap;
      // Other users' environments stay private, as in /proc, and so do the exit statuses of
      // the processes the agent started for them.
      const processes = snap.processes!.map((p) =>
        policy.maySeePrivate(viewer, p.uid!) ? p : { ...p, environ: Buffer.alloc(0) },
      );
      const ended = snap.ended!.filter((e) =>
        policy.maySeePrivate(viewer, registry.owner(e.pid!, Number(e.starttime)) ?? -1),
      );
      return { ...snap, processes, ended };
    }),

    ReadProcessFile: unary('ReadProcessFile', (req, call) => {
      const viewer = policy.viewer(call, 'ReadProcessFile');
      const ref = checkRef(req.process);
      const name = PROCESS_FILES[req.file];
      if (!name)
        throw new RpcError(
          status.INVALID_ARGUMENT,
          `unknown process file ${JSON.stringify(req.file)}`,
        );
      if (req.tid !== 0 && (req.tid < 1 || req.tid >= PID_LIMIT))
        throw new RpcError(status.INVALID_ARGUMENT, `bad tid ${req.tid}`);
      const seen = checkIdentity(procRoot, ref);
      const owner = ownerOf(`${procRoot}/${ref.pid}`);
      if (PRIVATE_FILES.has(req.file) && !policy.maySeePrivate(viewer, owner)) {
        throw new RpcError(status.PERMISSION_DENIED, `${name} of ${ref.pid} is not readable`);
      }
      const dir = req.tid ? `${procRoot}/${ref.pid}/task/${req.tid}` : `${procRoot}/${ref.pid}`;
      let content: Buffer | null;
      try {
        content = readWhole(`${dir}/${name}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM')
          throw new RpcError(status.PERMISSION_DENIED, `${name} of ${ref.pid} is not readable`);
        throw err;
      }
      if (!content) throw new RpcError(status.NOT_FOUND, `process ${ref.pid} is gone`);
      // What was read belongs to the process checked only if it is still the one there (its
      // pid may have been reused, by another user's process, between the check and the read).
      const after = readIdentity(procRoot, ref.pid);
      if (
        !after ||
        after.starttime !== seen.starttime ||
        ownerOf(`${procRoot}/${ref.pid}`) !== owner
      ) {
        throw new RpcError(status.NOT_FOUND, `process ${ref.pid} is gone`);
      }
      return { content };
    }),

    GetUsage: unary('GetUsage', async (req, call) => {
      policy.viewer(call, 'GetUsage');
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
      const who = policy.principal(call, 'Signal');
      if (!SIGNAL_NUMBERS.has(req.signal))
        throw new RpcError(status.INVALID_ARGUMENT, `unknown signal number ${req.signal}`);
      if (req.targets.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'no target');
      checkCount('signal targets', req.targets.length, defaults.limits.signalTargets);
      const targets = req.targets.map(checkRef);
      return {
        results: targets.map((ref) => ({
          target: ref,
          outcome: deliverSignal(procRoot, ref, req.signal, who, audit),
        })),
      };
    }),

    Spawn: unary('Spawn', async (req, call) => {
      const who = policy.principal(call, 'Spawn');
      const spec = spawnSpec(req, who, 'Spawn');
      try {
        const p = await registry.start(spec, 'ignore');
        auditStart('spawn', who, req, 'started', p.pid);
        return { pid: p.pid, starttime: p.starttime };
      } catch (err) {
        auditStart('spawn', who, req, err instanceof RpcError ? err.message : 'failed');
        throw err;
      }
    }),

    Wait: unary('Wait', async (req, call) => {
      const who = policy.principal(call, 'Wait');
      const ref = checkRef(req);
      const owner = registry.owner(ref.pid, ref.starttime);
      if (owner !== undefined && !policy.mayConsume(who, owner)) {
        throw new RpcError(
          status.PERMISSION_DENIED,
          `the exit status of ${ref.pid} belongs to uid ${owner}`,
        );
      }
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      return registry.wait(ref.pid, ref.starttime, abort.signal);
    }),

    Run: (call) => run(call, { procRoot, registry, policy, audit, log, spawnSpec, auditStart }),

    Events: (call) => {
      let viewer: Viewer;
      try {
        viewer = policy.viewer(call, 'Events');
      } catch (err) {
        call.emit('error', toServiceError(err, log, 'Events'));
        return;
      }
      events(call, watcher, registry, viewer, policy);
    },

    Seal: unary('Seal', (req, call) => {
      const who = policy.localCaller(call, 'Seal');
      if (!opts.sealer)
        throw new RpcError(
          status.FAILED_PRECONDITION,
          'this cluster has no tls section: credentials need node keys',
        );
      checkCount('audience', req.audience.length, defaults.limits.audience);
      const iat = Date.now();
      const exp = iat + defaults.credentialLifetimeMs;
      const origin = who.origin ?? { pid: 0, pgrp: 0, session: 0 };
      const token = seal(
        {
          node: node.id,
          uid: who.uid,
          gid: who.gid,
          groups: who.groups,
          pid: origin.pid,
          pgrp: origin.pgrp,
          session: origin.session,
          aud: req.audience,
          iat,
          exp,
        },
        opts.sealer,
      );
      return { token, expiresAtMs: exp };
    }),
  };
  return {
    handlers,
    registry,
    close: () => {
      registry.close();
      return pool.close();
    },
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

interface RunContext {
  procRoot: string;
  registry: ProcessRegistry;
  policy: Policy;
  audit: Audit;
  log: Logger;
  spawnSpec(req: SpawnRequest__Output, who: Principal, method: string): SpawnSpec;
  auditStart(
    action: 'run',
    who: Principal,
    req: SpawnRequest__Output,
    result: string,
    pid?: number,
  ): void;
}

/**
 * gproc run: the first message starts the process; stdin flows in, stdout and stderr
 * flow out, both ways with back-pressure (a full peer pauses the source); the last message
 * is the exit status. A signal message goes to the members of the process's group that
 * the caller may signal, as the same user's kill(2) would. A cancelled call (the client
 * went away) hangs the process group up.
 */
function run(call: ServerDuplexStream<RunInput__Output, RunOutput>, ctx: RunContext): void {
  const { registry, log } = ctx;
  let proc: StartedProcess | undefined;
  let who: Principal | undefined;
  let started = false;
  /** The call is over (cancelled or failed): a process that starts now is hung up at once. */
  let ended = false;
  const fail = (err: unknown) => call.emit('error', toServiceError(err, log, 'Run'));
  const signalGroup = (sig: number, asRoot = false) => {
    if (!proc) return;
    for (const pid of groupMembers(ctx.procRoot, proc.pid)) {
      deliverSignal(
        ctx.procRoot,
        { pid, starttime: 0 },
        sig,
        asRoot ? { ...who!, uid: 0, via: 'hang-up of a run whose caller went away' } : who!,
        ctx.audit,
      );
    }
  };

  call.on('data', (msg: RunInput__Output) => {
    if (msg.kind === 'start') {
      if (started) return fail(new RpcError(status.INVALID_ARGUMENT, 'start sent twice'));
      started = true;
      call.pause();
      let req: SpawnRequest__Output;
      Promise.resolve()
        .then(() => {
          who = ctx.policy.principal(call, 'Run');
          req = msg.start!;
          return registry.start(ctx.spawnSpec(req, who, 'Run'), 'pipe');
        })
        .then(
          (p) => {
            proc = p;
            ctx.auditStart('run', who!, req, 'started', p.pid);
            // The call ended while the process was starting (its caller went, or sent
            // garbage): nobody will read it, so it is hung up like any orphaned run.
            if (ended) return hangUp();
            attachOutput(call, p);
            call.write({ started: { pid: p.pid, starttime: p.starttime } });
            call.resume();
          },
          (err) => {
            if (who && req)
              ctx.auditStart('run', who, req, err instanceof RpcError ? err.message : 'failed');
            fail(err);
          },
        );
      return;
    }
    if (!proc)
      return fail(new RpcError(status.INVALID_ARGUMENT, 'the first message must be start'));
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
      if (!SIGNAL_NUMBERS.has(sig))
        return fail(new RpcError(status.INVALID_ARGUMENT, `unknown signal number ${sig}`));
      signalGroup(sig);
    }
  });
  // The caller went away: hang the process group up (the agent does, for the caller, even
  // members that changed user), and close its pipes so that a process that ignores SIGHUP
  // gets EPIPE (as over ssh) instead of blocking on a full pipe.
  const hangUp = () => {
    ended = true;
    if (!proc) return;
    const p = proc;
    // As root only while the leader is unreaped (libuv reaps it, and sets exitCode, in one
    // step of the event loop, never during this synchronous scan): till then its pid, the
    // group's id, cannot be taken by anyone else. Once it is reaped, another session's group
    // (root's, another user's) may have that id: signal as the caller, whose uid is checked.
    const leaderHeld = () => p.child.exitCode === null && p.child.signalCode === null;
    signalGroup(constants.signals.SIGHUP, leaderHeld());
    for (const s of [p.child.stdin, p.child.stdout, p.child.stderr]) s?.destroy();
    // As ssh and srun do: what ignores the hang-up is killed after a grace period.
    const kill = setTimeout(
      () => signalGroup(constants.signals.SIGKILL, leaderHeld()),
      defaults.hangupGraceMs,
    );
    kill.unref();
    void p.exited.then(() => clearTimeout(kill));
  };
  call.on('cancelled', hangUp);
  call.on('error', hangUp);
}

/** The processes of process group `pgrp` on this node (a scan of /proc: only on a forwarded signal). */
function groupMembers(procRoot: string, pgrp: number): number[] {
  return listPids(procRoot).filter((pid) => {
    try {
      const stat = readWhole(`${procRoot}/${pid}/stat`);
      return stat !== null && parsePidStat(stat).pgrp === pgrp;
    } catch {
      return false; // ended meanwhile, or unparseable: not a member we can signal
    }
  });
}

function attachOutput(
  call: ServerDuplexStream<RunInput__Output, RunOutput>,
  p: StartedProcess,
): void {
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
    void p.exited.then((st) => {
      call.write({ exit: st });
      call.end();
    });
  });
}

/** Streams START and EXIT events of this node until the caller goes away. */
function events(
  call: ServerWritableStream<unknown, ProcessEvent>,
  watcher: ProcessWatcher,
  registry: ProcessRegistry,
  viewer: Viewer,
  policy: Policy,
): void {
  // Exit statuses of processes the agent started are their owners' (and root's) to see.
  const mayKnow = (p: SeenProcess) => {
    const owner = registry.owner(p.pid, p.starttime);
    return owner === undefined || policy.maySeePrivate(viewer, owner);
  };
  let stopped = false;
  const send = (kind: 'START' | 'EXIT') => (p: SeenProcess) => {
    if (stopped) return;
    // A reader that does not keep up is let go rather than buffered for without bound; its
    // client reconnects and goes on from then.
    if (call.writableLength > defaults.eventsBufferBytes) {
      stop();
      call.emit('error', { code: status.RESOURCE_EXHAUSTED, details: 'events reader fell behind' });
      return;
    }
    const st =
      kind === 'EXIT' && mayKnow(p)
        ? (registry.heldStatus(p.pid, p.starttime) ?? { gone: true })
        : undefined;
    call.write({
      kind,
      pid: p.pid,
      starttime: p.starttime,
      ppid: p.ppid,
      comm: Buffer.from(p.comm, 'latin1'),
      status: st,
      timeMs: Date.now(),
    });
  };
  const onStart = send('START');
  const onExit = send('EXIT');
  watcher.on('start', onStart);
  watcher.on('exit', onExit);
  watcher.acquire();
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
