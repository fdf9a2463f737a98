/**
 * Seal: a credential for a local caller (Unix socket), sealed with this node's key, that
 * the `audience` nodes accept as that user (identity/credential.ts).
 */
import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import { defaults } from '../../defaults';
import { seal as sealClaims } from '../../identity/credential';
import type { Credential } from '../../proto/gen/gproc/v1/Credential';
import type { SealRequest__Output } from '../../proto/gen/gproc/v1/SealRequest';
import { checkCount } from '../limits';
import { RpcError } from '../rpc-error';
import type { AgentContext } from './context';

/**
 * @throws RpcError PERMISSION_DENIED (not a local caller), FAILED_PRECONDITION (no tls
 *   section, so no node key), INVALID_ARGUMENT (too many audience nodes).
 */
export function seal(
  ctx: AgentContext,
  req: SealRequest__Output,
  call: ServerUnaryCall<SealRequest__Output, Credential>,
): Credential {
  const who = ctx.policy.localCaller(call, 'Seal');
  if (!ctx.sealer)
    throw new RpcError(
      status.FAILED_PRECONDITION,
      'this cluster has no tls section: credentials need node keys',
    );
  checkCount('audience', req.audience.length, defaults.limits.audience);
  const iat = Date.now();
  const exp = iat + defaults.credentialLifetimeMs;
  const origin = who.origin ?? { pid: 0, pgrp: 0, session: 0 };
  const token = sealClaims(
    {
      node: ctx.node.id,
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
    ctx.sealer,
  );
  return { token, expiresAtMs: exp };
}
