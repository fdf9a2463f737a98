/**
 * ReadProcessLinks: the symbolic links of one process, read now with readlink(2) in the
 * node's own /proc: exe, cwd and root (LINKS), the open descriptors of fd/ (FD), or the
 * namespaces of ns/ (NS). Linux lets only a reader that may ptrace-read the process
 * follow these links (its owner, and root), so they are that reader's only (policy.ts
 * maySeePrivate, as environ and io). Names come from the node's kernel, never from the
 * request.
 */
import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { PROCESS_LINKS } from '../../procfs/files';
import type { ProcessLink } from '../../proto/gen/gproc/v1/ProcessLink';
import type { ProcessLinks } from '../../proto/gen/gproc/v1/ProcessLinks';
import type { ProcessLinksRequest__Output } from '../../proto/gen/gproc/v1/ProcessLinksRequest';
import { RpcError } from '../rpc-error';
import { readIdentity } from '../watcher';
import { checkIdentity, checkRef, goneError } from './call';
import type { AgentContext } from './context';

const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * @returns the links in the order the kernel lists them (fd/ ascending by number), each
 *   with its target's bytes, or the errno name readlink(2) failed with (exe of a kernel
 *   thread: ENOENT). A descriptor closed between the listing and its readlink is left out.
 * @throws RpcError INVALID_ARGUMENT (bad pid or set), NOT_FOUND (the process is gone, or
 *   its pid names another process now), PERMISSION_DENIED (another user's process).
 */
export function readProcessLinks(
  ctx: AgentContext,
  req: ProcessLinksRequest__Output,
  call: ServerUnaryCall<ProcessLinksRequest__Output, ProcessLinks>,
): ProcessLinks {
  const { policy, procRoot } = ctx;
  const viewer = policy.viewer(call, 'ReadProcessLinks');
  const ref = checkRef(req.process);
  const seen = checkIdentity(procRoot, ref);
  const dir = `${procRoot}/${ref.pid}`;
  const owner = ownerOf(dir);
  const unreadable = () =>
    new RpcError(status.PERMISSION_DENIED, `links of ${ref.pid} are not readable`);
  if (!policy.maySeePrivate(viewer, owner)) throw unreadable();
  let names: readonly string[];
  let under: string;
  switch (req.set) {
    case 'LINKS':
      [names, under] = [PROCESS_LINKS, dir];
      break;
    case 'FD':
      under = `${dir}/fd`;
      names = listOrGone(under, ref.pid, unreadable)
        .filter((n) => /^\d+$/.test(n))
        .sort((a, b) => Number(a) - Number(b));
      break;
    case 'NS':
      under = `${dir}/ns`;
      names = listOrGone(under, ref.pid, unreadable);
      break;
    default:
      throw new RpcError(status.INVALID_ARGUMENT, `unknown link set ${JSON.stringify(req.set)}`);
  }
  const links: ProcessLink[] = [];
  for (const name of names) {
    try {
      links.push({ name, target: readlinkSync(`${under}/${name}`, { encoding: 'buffer' }) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (req.set === 'FD' && code === 'ENOENT') continue; // closed meanwhile
      if (DENIED.has(code)) throw unreadable();
      links.push({ name, error: code });
    }
  }
  // What was read belongs to the process checked only if it is still the one there.
  const after = readIdentity(procRoot, ref.pid);
  if (!after || after.starttime !== seen.starttime || ownerOf(dir) !== owner)
    throw goneError(ref.pid);
  return { links };
}

/** The names in a directory of /proc/<pid>/. */
function listOrGone(path: string, pid: number, unreadable: () => RpcError): string[] {
  try {
    return readdirSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (DENIED.has(code)) throw unreadable();
    if (code === 'ENOENT' || code === 'ESRCH') throw goneError(pid);
    throw err;
  }
}

/** The uid owning a /proc/<pid> directory (root for a process that is not dumpable); -2 if it is gone. */
function ownerOf(dir: string): number {
  try {
    return statSync(dir).uid;
  } catch {
    return -2;
  }
}
