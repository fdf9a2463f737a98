/**
 * What the handlers share: the unary wrapper that turns a thrown RpcError into its gRPC
 * status (and anything else into INTERNAL "internal error", logged on the agent only), and
 * the checks of a request's process reference and signal number.
 */
import { status, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { constants } from 'node:os';
import { PID_LIMIT } from '../../gpid';
import type { Logger } from '../../log';
import type { ProcessRef__Output } from '../../proto/gen/gproc/v1/ProcessRef';
import { RpcError, toServiceError } from '../rpc-error';
import { readIdentity, type SeenProcess } from '../watcher';

/** A unary handler: throws RpcError for an answer other than OK. */
export type UnaryHandler<Req, Res> = (
  req: Req,
  call: ServerUnaryCall<Req, Res>,
) => Res | Promise<Res>;

/** grpc-js's form of `fn`: its result or its error goes to the callback, never an exception. */
export function unary<Req, Res>(log: Logger, method: string, fn: UnaryHandler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err) => callback(toServiceError(err, log, method)),
      );
  };
}

/** @throws RpcError INVALID_ARGUMENT when `ref` names no valid pid. */
export function checkRef(ref: ProcessRef__Output | null | undefined): ProcessRef__Output {
  if (!ref || !Number.isInteger(ref.pid) || ref.pid < 1 || ref.pid >= PID_LIMIT) {
    throw new RpcError(status.INVALID_ARGUMENT, `bad pid ${ref?.pid}`);
  }
  return ref;
}

/** The error of a process that is gone (or whose pid now names another process). */
export function goneError(pid: number): RpcError {
  return new RpcError(status.NOT_FOUND, `process ${pid} is gone`);
}

/** @throws RpcError NOT_FOUND when the process is gone or its pid was reused. */
export function checkIdentity(procRoot: string, ref: ProcessRef__Output): SeenProcess {
  const seen = readIdentity(procRoot, ref.pid);
  if (!seen || (ref.starttime !== 0 && seen.starttime !== ref.starttime)) throw goneError(ref.pid);
  return seen;
}

const SIGNAL_NUMBERS = new Set<number>([0, ...Object.values(constants.signals)]);

/** @throws RpcError INVALID_ARGUMENT for a number that is no signal of this system (0 is). */
export function checkSignal(signal: number): number {
  if (!SIGNAL_NUMBERS.has(signal))
    throw new RpcError(status.INVALID_ARGUMENT, `unknown signal number ${signal}`);
  return signal;
}
