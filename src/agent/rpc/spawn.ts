/**
 * Spawn: starts a process for the caller, detached from the call (its output goes
 * nowhere); its pid and start time are the answer. Also what Run shares with it: the
 * checks a start request passes and its audit line.
 */
import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import { defaults } from '../../defaults';
import type { SpawnReply } from '../../proto/gen/gproc/v1/SpawnReply';
import type { SpawnRequest__Output } from '../../proto/gen/gproc/v1/SpawnRequest';
import type { Audit } from '../audit';
import { checkSpawnBounds } from '../limits';
import type { Policy, Principal } from '../policy';
import type { SpawnSpec } from '../processes';
import { RpcError } from '../rpc-error';
import type { AgentContext } from './context';

/**
 * A start request as the registry takes it.
 * @throws RpcError INVALID_ARGUMENT when the request is over a bound, PERMISSION_DENIED
 *   when `who` is not admitted to this node.
 */
export function spawnSpec(
  policy: Policy,
  req: SpawnRequest__Output,
  who: Principal,
  method: string,
): SpawnSpec {
  checkSpawnBounds(req);
  if (req.terminal && method !== 'Run')
    throw new RpcError(
      status.INVALID_ARGUMENT,
      'a terminal is for a run (its output goes nowhere)',
    );
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
    terminal: req.terminal ?? undefined,
  };
}

/** The audit line of a start: `result` is 'started' (with its pid) or why it failed. */
export function auditStart(
  audit: Audit,
  action: 'spawn' | 'run',
  who: Principal,
  req: SpawnRequest__Output,
  result: string,
  pid?: number,
): void {
  audit.record({
    action,
    node: who.node,
    uid: who.uid,
    via: who.via,
    command: req.shellCommand
      ? ['/bin/sh', '-c', req.shellCommand]
      : req.argv.slice(0, defaults.auditCommandArgs),
    pid,
    result,
  });
}

/** What a failed start is audited as: the caller's error message, or 'failed'. */
export function failure(err: unknown): string {
  return err instanceof RpcError ? err.message : 'failed';
}

/** @throws RpcError as spawnSpec and ProcessRegistry.start do. */
export async function spawn(
  ctx: AgentContext,
  req: SpawnRequest__Output,
  call: ServerUnaryCall<SpawnRequest__Output, SpawnReply>,
): Promise<SpawnReply> {
  try {
    const reply = await start(ctx, req, call);
    ctx.metrics.spawn('Spawn');
    return reply;
  } catch (err) {
    ctx.metrics.spawn('Spawn', err);
    throw err;
  }
}

async function start(
  ctx: AgentContext,
  req: SpawnRequest__Output,
  call: ServerUnaryCall<SpawnRequest__Output, SpawnReply>,
): Promise<SpawnReply> {
  const who = ctx.policy.principal(call, 'Spawn');
  const spec = spawnSpec(ctx.policy, req, who, 'Spawn');
  try {
    const p = await ctx.registry.start(spec, 'ignore');
    auditStart(ctx.audit, 'spawn', who, req, 'started', p.pid);
    return { pid: p.pid, starttime: p.starttime };
  } catch (err) {
    auditStart(ctx.audit, 'spawn', who, req, failure(err));
    throw err;
  }
}
