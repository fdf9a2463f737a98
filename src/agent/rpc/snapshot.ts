/**
 * GetNodeInfo and GetSnapshot: the node's files, and all its processes at one moment.
 * Anyone the policy names as a viewer may read them; other users' environments, and the
 * exit statuses of processes the agent started for other users, are left out.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { NodeInfo } from '../../proto/gen/gproc/v1/NodeInfo';
import type { Process } from '../../proto/gen/gproc/v1/Process';
import type { Snapshot } from '../../proto/gen/gproc/v1/Snapshot';
import type { Viewer } from '../policy';
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

export async function getSnapshot(
  ctx: AgentContext,
  _req: unknown,
  call: ServerUnaryCall<unknown, Snapshot>,
): Promise<Snapshot> {
  const viewer = ctx.policy.viewer(call, 'GetSnapshot');
  return visibleTo(ctx, viewer, await ctx.snapshot());
}

/**
 * What `viewer` may see of the processes and statuses of `part` (a snapshot or a Watch
 * update): other users' environments are left empty, and the exit statuses of processes
 * the agent started for other users are left out. Everything for a node peer.
 */
export function visibleTo<T extends Pick<Snapshot, 'ended'>>(
  ctx: AgentContext,
  viewer: Viewer,
  part: T & ({ processes?: Process[] } | { changed?: Process[] }),
): T {
  const { policy, registry } = ctx;
  if (viewer.uid === undefined) return part;
  const hide = (list: Process[] | undefined) =>
    list?.map((p) =>
      policy.maySeePrivate(viewer, p.uid!) ? p : { ...p, environ: Buffer.alloc(0) },
    );
  const ended = part.ended?.filter((e) =>
    policy.maySeePrivate(viewer, registry.owner(e.pid!, Number(e.starttime)) ?? -1),
  );
  if ('changed' in part) return { ...part, changed: hide(part.changed), ended };
  return { ...part, processes: hide((part as { processes?: Process[] }).processes), ended };
}
