/**
 * GetNodeInfo and GetSnapshot: the node's files, and all its processes at one moment.
 * Anyone the policy names as a viewer may read them; other users' environments, and the
 * exit statuses of processes the agent started for other users, are left out.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { NodeInfo } from '../../proto/gen/gproc/v1/NodeInfo';
import type { Snapshot } from '../../proto/gen/gproc/v1/Snapshot';
import { readNodeInfo } from '../snapshot';
import type { AgentContext } from './context';

export function getNodeInfo(
  ctx: AgentContext,
  _req: unknown,
  call: ServerUnaryCall<unknown, NodeInfo>,
): NodeInfo {
  ctx.policy.viewer(call, 'GetNodeInfo');
  return readNodeInfo(ctx.procRoot, ctx.node);
}

/**
 * `take` shared by concurrent callers: a call made while a snapshot is being taken gets
 * that one (a flood of calls costs one reading of /proc).
 */
export function shared(take: () => Promise<Snapshot>): () => Promise<Snapshot> {
  let taking: Promise<Snapshot> | undefined;
  return () => (taking ??= take().finally(() => (taking = undefined)));
}

export async function getSnapshot(
  ctx: AgentContext,
  _req: unknown,
  call: ServerUnaryCall<unknown, Snapshot>,
): Promise<Snapshot> {
  const { policy, registry } = ctx;
  const viewer = policy.viewer(call, 'GetSnapshot');
  const snap = await ctx.snapshot();
  if (viewer.uid === undefined) return snap;
  const processes = snap.processes!.map((p) =>
    policy.maySeePrivate(viewer, p.uid!) ? p : { ...p, environ: Buffer.alloc(0) },
  );
  const ended = snap.ended!.filter((e) =>
    policy.maySeePrivate(viewer, registry.owner(e.pid!, Number(e.starttime)) ?? -1),
  );
  return { ...snap, processes, ended };
}
