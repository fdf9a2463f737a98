/**
 * ReadProcessFile and GetUsage: one process's file, or its cpu and memory use. A request
 * names a file by its enum, never by a path: the files procfs/files.ts declares, those of
 * mode 0400 (environ, io, smaps...) their owner's (and root's) to read, as in /proc, and
 * fdinfo/<fd> (FDINFO with its descriptor number), which is its owner's too.
 */
import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import pidusage from 'pidusage';
import { statSync } from 'node:fs';
import { PID_LIMIT } from '../../gpid';
import { declOf, FILE_BY_WIRE, isPrivateFile } from '../../procfs/files';
import { readWhole } from '../../procfs/read';
import type { ProcessFile } from '../../proto/gen/gproc/v1/ProcessFile';
import type { ProcessFileRequest__Output } from '../../proto/gen/gproc/v1/ProcessFileRequest';
import type { ProcessRef__Output } from '../../proto/gen/gproc/v1/ProcessRef';
import type { Usage } from '../../proto/gen/gproc/v1/Usage';
import { RpcError } from '../rpc-error';
import { readIdentity } from '../watcher';
import { checkIdentity, checkRef, goneError } from './call';
import type { AgentContext } from './context';

/**
 * @throws RpcError INVALID_ARGUMENT (bad pid, tid or file), NOT_FOUND (the process is gone,
 *   its pid names another process now, or `tid` is not one of its threads), PERMISSION_DENIED (a private file of another
 *   user's process, or one the agent may not read).
 */
export function readProcessFile(
  ctx: AgentContext,
  req: ProcessFileRequest__Output,
  call: ServerUnaryCall<ProcessFileRequest__Output, ProcessFile>,
): ProcessFile {
  const { policy, procRoot } = ctx;
  const viewer = policy.viewer(call, 'ReadProcessFile');
  const ref = checkRef(req.process);
  // fdinfo/<fd>: the descriptor's file, ptrace-checked on Linux (the owner's and root's).
  const declared = FILE_BY_WIRE.get(req.file);
  const name = req.file === 'FDINFO' ? `fdinfo/${req.fd}` : declared;
  if (!name)
    throw new RpcError(status.INVALID_ARGUMENT, `unknown process file ${JSON.stringify(req.file)}`);
  if (req.tid !== 0 && (req.tid < 1 || req.tid >= PID_LIMIT))
    throw new RpcError(status.INVALID_ARGUMENT, `bad tid ${req.tid}`);
  const seen = checkIdentity(procRoot, ref);
  const owner = ownerOf(`${procRoot}/${ref.pid}`);
  const unreadable = () =>
    new RpcError(status.PERMISSION_DENIED, `${name} of ${ref.pid} is not readable`);
  const isPrivate = declared ? isPrivateFile(declared) : true;
  if (isPrivate && !policy.maySeePrivate(viewer, owner)) throw unreadable();
  const dir = req.tid ? `${procRoot}/${ref.pid}/task/${req.tid}` : `${procRoot}/${ref.pid}`;
  let content: Buffer | null;
  try {
    content = readWhole(`${dir}/${name}`, !declared || declOf(declared).read === 'on-demand');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw unreadable();
    throw err;
  }
  if (!content) {
    // Missing in a live process: task/<tid> of a thread that is not (or no longer) one of
    // it, or a file this kernel does not have (smaps_rollup before Linux 4.14): ENOENT.
    if (readIdentity(procRoot, ref.pid)?.starttime === seen.starttime)
      throw new RpcError(
        status.NOT_FOUND,
        req.tid ? `process ${ref.pid} has no thread ${req.tid}` : `no ${name} in /proc/${ref.pid}`,
      );
    throw goneError(ref.pid);
  }
  // What was read belongs to the process checked only if it is still the one there (its
  // pid may have been reused, by another user's process, between the check and the read).
  const after = readIdentity(procRoot, ref.pid);
  if (!after || after.starttime !== seen.starttime || ownerOf(`${procRoot}/${ref.pid}`) !== owner)
    throw goneError(ref.pid);
  return { content };
}

/** @throws RpcError INVALID_ARGUMENT (bad pid), NOT_FOUND (the process is gone). */
export async function getUsage(
  ctx: AgentContext,
  req: ProcessRef__Output,
  call: ServerUnaryCall<ProcessRef__Output, Usage>,
): Promise<Usage> {
  ctx.policy.viewer(call, 'GetUsage');
  const ref = checkRef(req);
  checkIdentity(ctx.procRoot, ref);
  try {
    const u = await pidusage(ref.pid);
    return { cpuPercent: u.cpu, memoryBytes: u.memory, elapsedMs: u.elapsed };
  } catch {
    throw goneError(ref.pid);
  } finally {
    pidusage.clear();
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
