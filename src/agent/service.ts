/**
 * The gproc.v1.Agent service over one node's /proc (spec sections 2, 4, 5): the table
 * that wires each call to its handler in rpc/. Every handler asks the policy (policy.ts)
 * who the caller is and what it may do, validates its request, and answers gRPC status
 * codes (NOT_FOUND for a gone or reused process, INVALID_ARGUMENT for a bad request);
 * unexpected failures go out as INTERNAL "internal error" and are logged on the agent only.
 */
import type { Sealer } from '../identity/credential';
import type { Logger } from '../log';
import type { AgentMetrics } from '../metrics/agent';
import type { AgentHandlers } from '../proto';
import type { Audit } from './audit';
import type { Policy } from './policy';
import { ProcessRegistry } from './processes';
import { ReaderPool } from './reader-pool';
import { unary } from './rpc/call';
import type { AgentContext } from './rpc/context';
import { events } from './rpc/events';
import { readProcessLinks } from './rpc/links';
import { getUsage, readProcessFile } from './rpc/read';
import { run } from './rpc/run';
import { seal } from './rpc/seal';
import { signal } from './rpc/signal';
import { getNodeInfo, getSnapshot } from './rpc/snapshot';
import { spawn } from './rpc/spawn';
import { wait } from './rpc/wait';
import { watch } from './rpc/watch';
import { takeSnapshot, type NodeIdentity } from './snapshot';
import { ProcessTable } from './table';
import { ProcessWatcher } from './watcher';

export interface AgentServiceOptions {
  node: NodeIdentity;
  /** Root of the /proc tree served ("/proc"; a fixture tree in tests). */
  procRoot: string;
  log: Logger;
  audit: Audit;
  /** Who may do what (policy.ts). */
  policy: Policy;
  /** This node's key and certificate, to seal credentials with (undefined without TLS). */
  sealer?: Sealer;
  /** Environment added to every started process (GPROC_NODE, GPROC_CONFIG). */
  childEnv: Record<string, string>;
  /** Worker threads reading /proc for snapshots (0 in tests that run from source). */
  readerThreads: number;
  /** The agent's state directory: records of the processes it started (processes.ts). */
  stateDir: string;
  /** Counts and timings for Prometheus; the service feeds it its snapshots, signals and starts. */
  metrics: AgentMetrics;
}

/** Builds the handlers; `registry` holds the processes the agent started. */
export function createAgentService(opts: AgentServiceOptions): {
  handlers: AgentHandlers;
  registry: ProcessRegistry;
  /** The node's process table (its 'update' events carry each reading). */
  table: ProcessTable;
  /** Takes one snapshot (starting the reader threads): resolves when the agent has served one. */
  warmUp(): Promise<unknown>;
  close(): Promise<unknown>;
} {
  const { node, procRoot, log } = opts;
  const watcher = new ProcessWatcher(procRoot);
  const registry = new ProcessRegistry({
    procRoot,
    log,
    extraEnv: opts.childEnv,
    stateDir: opts.stateDir,
    watcher,
  });
  const pool = new ReaderPool(procRoot, opts.readerThreads, (err) =>
    log.error({ err: err.message }, 'snapshot reader thread failed; reading on the main thread'),
  );
  const { metrics } = opts;
  metrics.started = () => registry.started().length;
  const table = new ProcessTable(procRoot, node, pool, log, (read) => metrics.timeSnapshot(read));
  const ctx: AgentContext = {
    node,
    procRoot,
    log,
    audit: opts.audit,
    policy: opts.policy,
    registry,
    watcher,
    sealer: opts.sealer,
    table,
    snapshot: () => takeSnapshot(table, registry),
    metrics,
  };
  const handlers: AgentHandlers = {
    GetNodeInfo: unary(log, 'GetNodeInfo', (req, call) => getNodeInfo(ctx, req, call)),
    GetSnapshot: unary(log, 'GetSnapshot', (req, call) => getSnapshot(ctx, req, call)),
    ReadProcessFile: unary(log, 'ReadProcessFile', (req, call) => readProcessFile(ctx, req, call)),
    ReadProcessLinks: unary(log, 'ReadProcessLinks', (req, call) =>
      readProcessLinks(ctx, req, call),
    ),
    GetUsage: unary(log, 'GetUsage', (req, call) => getUsage(ctx, req, call)),
    Signal: unary(log, 'Signal', (req, call) => signal(ctx, req, call)),
    Spawn: unary(log, 'Spawn', (req, call) => spawn(ctx, req, call)),
    Wait: unary(log, 'Wait', (req, call) => wait(ctx, req, call)),
    Seal: unary(log, 'Seal', (req, call) => seal(ctx, req, call)),
    Run: (call) => run(ctx, call),
    Events: (call) => events(ctx, call),
    Watch: (call) => watch(ctx, call),
  };
  return {
    handlers,
    registry,
    table,
    warmUp: () => ctx.snapshot(),
    close: () => {
      registry.close();
      table.close();
      return pool.close();
    },
  };
}
