/**
 * Run (gproc run): the first message starts the process; stdin flows in, stdout and
 * stderr flow out, both ways with back-pressure (a full peer pauses the source); the last
 * message is the exit status. A signal message goes to the members of the process's group
 * that the caller may signal, as the same user's kill(2) would. A cancelled call (the
 * client went away) hangs the process group up.
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { defaults } from '../../defaults';
import { listPids, readWhole } from '../../procfs/read';
import { parsePidStat } from '../../procfs/stat';
import { bytesMessage } from '../../proto';
import type { RunInput__Output } from '../../proto/gen/gproc/v1/RunInput';
import type { RunOutput } from '../../proto/gen/gproc/v1/RunOutput';
import type { SpawnRequest__Output } from '../../proto/gen/gproc/v1/SpawnRequest';
import { deliverSignal } from '../deliver';
import { checkTerminalSize } from '../limits';
import type { Principal } from '../policy';
import type { StartedProcess } from '../processes';
import { RpcError, toServiceError } from '../rpc-error';
import { checkSignal } from './call';
import type { AgentContext } from './context';
import { auditStart, failure, spawnSpec } from './spawn';

type RunCall = ServerDuplexStream<RunInput__Output, RunOutput>;

export function run(ctx: AgentContext, call: RunCall): void {
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
        ctx,
        { pid, starttime: 0 },
        sig,
        asRoot ? { ...who!, uid: 0, via: 'hang-up of a run whose caller went away' } : who!,
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
          return registry.start(spawnSpec(ctx.policy, req, who, 'Run'), 'pipe');
        })
        .then(
          (p) => {
            proc = p;
            ctx.metrics.spawn('Run');
            auditStart(ctx.audit, 'run', who!, req, 'started', p.pid);
            // The call ended while the process was starting (its caller went, or sent
            // garbage): nobody will read it, so it is hung up like any orphaned run.
            if (ended) return hangUp();
            attachOutput(call, p);
            call.write({ started: { pid: p.pid, starttime: p.starttime } });
            call.resume();
          },
          (err) => {
            ctx.metrics.spawn('Run', err);
            if (who && req) auditStart(ctx.audit, 'run', who, req, failure(err));
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
    } else if (msg.kind === 'resize') {
      try {
        proc.resize?.(checkTerminalSize(msg.resize!));
      } catch (err) {
        fail(err);
      }
    } else if (msg.kind === 'signal') {
      try {
        signalGroup(checkSignal(msg.signal ?? -1));
      } catch (err) {
        fail(err);
      }
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

/**
 * Forwards the process's stdout and stderr to the call, then its exit status, and ends the
 * call. What the pipes give in one turn of the event loop (64 KiB a read) goes as one
 * message of up to `defaults.runMessageBytes`: each message costs grpc-js and HTTP/2 the
 * same work whatever its size.
 */
function attachOutput(call: RunCall, p: StartedProcess): void {
  const { stdout, stderr, stdin } = p.child;
  stdin!.on('error', () => {}); // the process closed its stdin: further input is dropped
  const sources = [stdout!, stderr!];
  const forward = (source: Readable, kind: 'stdout' | 'stderr') => {
    let chunks: Buffer[] = [];
    let size = 0;
    let queued = false;
    const flush = () => {
      queued = false;
      if (call.cancelled) [chunks, size] = [[], 0]; // nobody reads it any more
      if (size === 0) return;
      const msg = bytesMessage('RunOutput', kind, chunks, size) as unknown as RunOutput;
      chunks = [];
      size = 0;
      if (!call.write(msg)) {
        for (const s of sources) s.pause();
        call.once('drain', () => sources.forEach((s) => s.resume()));
      }
    };
    source.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= defaults.runMessageBytes) flush();
      else if (!queued) {
        queued = true;
        setImmediate(flush);
      }
    });
    source.once('end', flush);
    return flush;
  };
  const flushes = [forward(stdout!, 'stdout'), forward(stderr!, 'stderr')];
  p.child.once('close', () => {
    void p.exited.then((st) => {
      flushes.forEach((flush) => flush());
      call.write({ exit: st });
      call.end();
    });
  });
}
