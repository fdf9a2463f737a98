/**
 * What every handler of the agent's service works with: the node it serves, its /proc,
 * who may do what (policy.ts), the audit log and the processes the agent started. Built
 * once by service.ts; handlers take it as their first argument and keep no state of their
 * own beyond what they are given here.
 */
import type { Snapshot } from '../../proto/gen/gproc/v1/Snapshot';
import type { Sealer } from '../../identity/credential';
import type { Logger } from '../../log';
import type { AgentMetrics } from '../../metrics/agent';
import type { Audit } from '../audit';
import type { Policy } from '../policy';
import type { ProcessRegistry } from '../processes';
import type { NodeIdentity } from '../snapshot';
import type { ProcessTable } from '../table';
import type { ProcessWatcher } from '../watcher';

export interface AgentContext {
  node: NodeIdentity;
  /** Root of the /proc tree served ("/proc"; a fixture tree in tests). */
  procRoot: string;
  log: Logger;
  audit: Audit;
  policy: Policy;
  /** The processes this agent started, and the statuses it holds. */
  registry: ProcessRegistry;
  /** The one poller of /proc: process starts and exits, and waits until a process is gone. */
  watcher: ProcessWatcher;
  /** The node's process table (table.ts): one reader of /proc for snapshots and Watch streams. */
  table: ProcessTable;
  /** All processes of the node now; concurrent callers share one reading. */
  snapshot(): Promise<Snapshot>;
  /** This node's key and certificate, to seal credentials with (undefined without TLS). */
  sealer?: Sealer;
  /** Counts and timings for Prometheus (signals, spawns, snapshots). */
  metrics: AgentMetrics;
}
