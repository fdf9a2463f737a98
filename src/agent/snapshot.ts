/**
 * The snapshot an agent serves in one call: every process of the node with the
 * raw files ps, top and pgrep read, the node-wide files, and the processes the agent
 * started for the cluster (live ones with their origin, ended ones with their status).
 */
import { readNodeFiles } from '../procfs/read';
import { parseSystemStat } from '../procfs/system-stat';
import type { Snapshot } from '../proto/gen/gproc/v1/Snapshot';
import type { NodeInfo } from '../proto/gen/gproc/v1/NodeInfo';
import { VERSION } from '../version';
import type { ProcessRegistry } from './processes';
import type { ProcessTable } from './table';
import { systemConstants } from './system';

/** The node this agent serves. */
export interface NodeIdentity {
  id: number;
  name: string;
}

/**
 * Who the node is and its node-wide files, read now.
 * @throws ProcParseError when /proc/stat has no btime.
 */
export function readNodeInfo(procRoot: string, node: NodeIdentity): NodeInfo {
  const files = readNodeFiles(procRoot);
  const { clockTicks, pageSize } = systemConstants();
  return {
    id: node.id,
    name: node.name,
    bootTime: parseSystemStat(files.stat, `${procRoot}/stat`).btime,
    clockTicks,
    pageSize,
    files,
    version: VERSION,
  };
}

/** Reads the whole node now (table.ts). Processes with unparseable files are logged and left out. */
export async function takeSnapshot(
  table: ProcessTable,
  registry: ProcessRegistry,
): Promise<Snapshot> {
  let state = await table.read();
  // A reading under way may have begun before the agent last started a process.
  if (!registry.listsEveryStart(state)) state = await table.readAfterNow();
  return {
    node: state.node,
    takenAtMs: state.takenAtMs,
    processes: [...state.processes.values()],
    ...agentStarted(registry, state.processes),
  };
}

/**
 * The processes the agent started for the cluster, to send with a reading of /proc that
 * listed `listed` (pid -> process): live ones with their origin, ended ones with their
 * status, those the reading missed settled first (ProcessRegistry.settleUnlisted).
 */
export function agentStarted(
  registry: ProcessRegistry,
  listed: ReadonlyMap<number, { starttime: number }>,
): Pick<Snapshot, 'started' | 'ended'> {
  registry.settleUnlisted(listed);
  return {
    started: registry
      .started()
      .map((p) => ({ pid: p.pid, starttime: p.starttime, origin: p.origin })),
    ended: registry
      .endedProcesses()
      .map((p) => ({ pid: p.pid, starttime: p.starttime, status: p.status, uid: p.uid })),
  };
}
