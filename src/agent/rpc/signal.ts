/**
 * Signal: signals processes of this node, each named by pid and start time, as the calling
 * user's kill(2) would (deliver.ts); one outcome per target, in the request's order.
 */
import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import { defaults } from '../../defaults';
import type { SignalReply } from '../../proto/gen/gproc/v1/SignalReply';
import type { SignalRequest__Output } from '../../proto/gen/gproc/v1/SignalRequest';
import { deliverSignal } from '../deliver';
import { checkCount } from '../limits';
import { RpcError } from '../rpc-error';
import { checkRef, checkSignal } from './call';
import type { AgentContext } from './context';

/** @throws RpcError INVALID_ARGUMENT (unknown signal, no target, too many, a bad pid). */
export function signal(
  ctx: AgentContext,
  req: SignalRequest__Output,
  call: ServerUnaryCall<SignalRequest__Output, SignalReply>,
): SignalReply {
  const who = ctx.policy.principal(call, 'Signal');
  checkSignal(req.signal);
  if (req.targets.length === 0) throw new RpcError(status.INVALID_ARGUMENT, 'no target');
  checkCount('signal targets', req.targets.length, defaults.limits.signalTargets);
  const targets = req.targets.map(checkRef);
  return {
    results: targets.map((ref) => ({
      target: ref,
      outcome: deliverSignal(ctx, ref, req.signal, who),
    })),
  };
}
