/**
 * Bounds on what one request may carry (spec section 7; the numbers are
 * `defaults.limits`). Each check throws RpcError INVALID_ARGUMENT naming the bound.
 */
import { status } from '@grpc/grpc-js';
import { defaults } from '../defaults';
import type { SpawnRequest__Output } from '../proto/gen/gproc/v1/SpawnRequest';
import type { TerminalSize } from './processes';
import { RpcError } from './rpc-error';

const L = defaults.limits;

function over(what: string, bound: number, unit = ''): never {
  throw new RpcError(status.INVALID_ARGUMENT, `${what} exceeds ${bound}${unit}`);
}

const bytes = (list: string[]) => list.reduce((n, s) => n + Buffer.byteLength(s) + 1, 0);

/** @throws RpcError INVALID_ARGUMENT when argv, the shell command, the environment or cwd is too large. */
export function checkSpawnBounds(req: SpawnRequest__Output): void {
  if (req.argv.length > L.argvCount) over('argv count', L.argvCount);
  if (bytes(req.argv) > L.argvBytes || Buffer.byteLength(req.shellCommand) > L.argvBytes)
    over('command line', L.argvBytes, ' bytes');
  if (req.env.length > L.envCount) over('environment count', L.envCount);
  if (bytes(req.env) > L.envBytes) over('environment', L.envBytes, ' bytes');
  if (Buffer.byteLength(req.cwd) > L.cwdBytes) over('working directory', L.cwdBytes, ' bytes');
  if (req.terminal) checkTerminalSize(req.terminal);
}

/** @throws RpcError INVALID_ARGUMENT unless both sides of a terminal size are 1..65535. */
export function checkTerminalSize(size: { rows: number; cols: number }): TerminalSize {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0xffff;
  if (!ok(size.rows) || !ok(size.cols))
    throw new RpcError(
      status.INVALID_ARGUMENT,
      `terminal size ${size.rows}x${size.cols}: rows and columns are 1..65535`,
    );
  return { rows: size.rows, cols: size.cols };
}

/** @throws RpcError INVALID_ARGUMENT when a request names too many signal targets or nodes. */
export function checkCount(what: string, count: number, bound: number): void {
  if (count > bound) over(what, bound);
}
