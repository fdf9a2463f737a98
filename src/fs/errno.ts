/**
 * The one errno mapping of the cluster view (spec section 6). Handlers throw FsError with
 * an errno, or let gRPC errors through; `toErrno` turns either into the negative errno
 * fuse-native expects.
 */
import { status } from '@grpc/grpc-js';
import { constants } from 'node:os';
import { GpidError } from '../gpid';
import { SignalError } from '../signals';

/**
 * Positive errno numbers by name, from Node's os.constants, plus EHOSTDOWN which Node does
 * not list (112 on Linux, asm-generic/errno.h).
 */
export const E = { ...constants.errno, EHOSTDOWN: 112 } as const;

/** A failure with a definite errno (positive, as in os.constants.errno). */
export class FsError extends Error {
  override name = 'FsError';
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

/** Which errno a gRPC NOT_FOUND becomes: ENOENT for a path, ESRCH for a signal (spec 6). */
export type NotFoundAs = 'ENOENT' | 'ESRCH';

/**
 * Maps any error to a negative errno for fuse-native.
 * - FsError: its errno.
 * - gRPC: NOT_FOUND -> ENOENT/ESRCH, INVALID_ARGUMENT -> EINVAL, PERMISSION_DENIED ->
 *   EACCES (a file the agent may not read, as /proc answers), FAILED_PRECONDITION -> ENOENT (missing working directory), UNAVAILABLE and
 *   DEADLINE_EXCEEDED -> EHOSTDOWN (the node does not answer), anything else -> EIO.
 * - malformed gpids and unknown signals: EINVAL.
 */
export function toErrno(err: unknown, notFound: NotFoundAs = 'ENOENT'): number {
  if (err instanceof FsError) return -err.errno;
  if (err instanceof GpidError || err instanceof SignalError) return -E.EINVAL;
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case status.NOT_FOUND:
      return -E[notFound];
    case status.INVALID_ARGUMENT:
      return -E.EINVAL;
    case status.PERMISSION_DENIED:
      return -E.EACCES;
    case status.FAILED_PRECONDITION:
      return -E.ENOENT;
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case status.CANCELLED:
      return -E.EHOSTDOWN;
    default:
      return -E.EIO;
  }
}
