/**
 * Wait: blocks until a process ends. For a process the agent started, the answer is its
 * exit status (its owner's or root's to consume); for any other, `gone` once it is gone.
 */
import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import type { ExitStatus } from '../../proto/gen/gproc/v1/ExitStatus';
import type { ProcessRef__Output } from '../../proto/gen/gproc/v1/ProcessRef';
import { encodeGpid } from '../../gpid';
import { RpcError } from '../rpc-error';
import { checkRef } from './call';
import type { AgentContext } from './context';

/**
 * @throws RpcError INVALID_ARGUMENT (bad pid), PERMISSION_DENIED (the status belongs to
 *   another user). A cancelled call stops waiting.
 */
export function wait(
  ctx: AgentContext,
  req: ProcessRef__Output,
  call: ServerUnaryCall<ProcessRef__Output, ExitStatus>,
): Promise<ExitStatus> {
  const who = ctx.policy.principal(call, 'Wait');
  const ref = checkRef(req);
  const owner = ctx.registry.owner(ref.pid, ref.starttime);
  if (owner !== undefined && !ctx.policy.mayConsume(who, owner)) {
    throw new RpcError(
      status.PERMISSION_DENIED,
      `the exit status of ${encodeGpid(ctx.node.id, ref.pid)} (${ctx.node.id}:${ref.pid}) belongs to uid ${owner}`,
    );
  }
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort());
  return ctx.registry.wait(ref.pid, ref.starttime, abort.signal);
}
