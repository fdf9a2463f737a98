/**
 * Signal delivery on the node that holds the process (spec section 4). The caller names
 * each target by pid and the start time it listed; the start time is checked immediately
 * before kill(2), so a reused PID is never signalled. A request acts for one uid and may
 * signal only processes whose real or saved uid is that uid (root: any), as kill(2) allows.
 * Every attempt leaves a line in the agent's audit log and is counted in its metrics.
 */
import { signalName } from '../signals';
import type { Principal } from './policy';
import type { AgentContext } from './rpc/context';
import { readIdentity } from './watcher';

export type Outcome = 'DELIVERED' | 'NO_SUCH_PROCESS' | 'NOT_PERMITTED';

/** A process named by pid and start time (clock ticks after boot; 0 = any). */
export interface Target {
  pid: number;
  starttime: number;
}

/**
 * Sends `signal` to one target after checking its identity and the requester's right.
 * @returns DELIVERED, NO_SUCH_PROCESS (gone or reused pid) or NOT_PERMITTED.
 */
export function deliverSignal(
  ctx: Pick<AgentContext, 'procRoot' | 'audit' | 'metrics'>,
  target: Target,
  signal: number,
  who: Principal,
): Outcome {
  const outcome = tryDeliver(ctx.procRoot, target, signal, who);
  ctx.metrics.signal(outcome);
  ctx.audit.record({
    action: 'signal',
    node: who.node,
    uid: who.uid,
    via: who.via,
    target: target.pid,
    starttime: target.starttime,
    signal: signalName(signal),
    result: outcome,
  });
  return outcome;
}

function tryDeliver(
  procRoot: string,
  target: Target,
  signal: number,
  who: Pick<Principal, 'uid'>,
): Outcome {
  // Gone, or a thread id (kill(2) on it would signal its whole process): no such process.
  const seen = readIdentity(procRoot, target.pid);
  if (!seen) return 'NO_SUCH_PROCESS';
  const { starttime } = seen;
  const [realUid, , savedUid] = seen.uid!;
  if (target.starttime !== 0 && starttime !== target.starttime) return 'NO_SUCH_PROCESS';
  // The agent does not signal itself: a signal meant for processes of a node (a group, a
  // typo) must not take the node out of the cluster.
  if (target.pid === process.pid) return 'NOT_PERMITTED';
  if (who.uid !== 0 && who.uid !== realUid && who.uid !== savedUid) return 'NOT_PERMITTED';
  try {
    process.kill(target.pid, signal);
    return 'DELIVERED';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'NOT_PERMITTED' : 'NO_SUCH_PROCESS';
  }
}
