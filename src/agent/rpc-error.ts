/**
 * Errors an agent answers with. A handler throws RpcError with a gRPC status code and a
 * message meant for the caller; anything else becomes INTERNAL "internal error" on the
 * wire and is logged in full on the agent only.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import type { Logger } from '../log';

export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** The error to send for `err`, hiding details of unexpected failures. */
export function toServiceError(err: unknown, log: Logger, method: string): Partial<ServiceError> {
  if (err instanceof RpcError)
    return { code: err.code, details: err.message, message: err.message, metadata: new Metadata() };
  log.error({ err, method }, 'request failed');
  return {
    code: status.INTERNAL,
    details: 'internal error',
    message: 'internal error',
    metadata: new Metadata(),
  };
}
