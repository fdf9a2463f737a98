/**
 * Forwarded signals (spec section 4), shared by `<gpid>/ctl` and `gproc kill`.
 * A signal names its target by pid and the start time the table listed, so the owning
 * agent refuses a PID that was reused. A group signal goes to every process whose global
 * process group is the target's, on every node that answers, one call per node in
 * parallel; the nodes that did not answer are reported.
 */
import type { SignalResult__Output } from '../proto/gen/gproc/v1/SignalResult';
import type { Cluster } from './cluster';
import type { ClusterTable, ProcessEntry } from './table';

/** Who asks: the uid the request acts for (0 = root) and the node it comes from (0 = none). */
export interface Requester {
  uid: number;
  node: number;
}

export type SignalOutcome = SignalResult__Output['outcome'];

/**
 * The result of a group signal. Members that ended meanwhile (`gone`) are no failure, as
 * with kill(2) on a group; `refused` ones are (the uid may not signal them); `unreachable`
 * nodes had members but did not answer; `down` nodes are left out of the table, so their
 * members (if any) are unknown.
 */
export interface GroupResult {
  delivered: number[];
  gone: number[];
  refused: number[];
  unreachable: number[];
  down: number[];
}

/**
 * Signals one listed process through its node's agent.
 * @returns the agent's outcome (DELIVERED, NO_SUCH_PROCESS, NOT_PERMITTED).
 * @throws the gRPC error when the node does not answer in its deadline.
 */
export async function signalProcess(cluster: Cluster, p: ProcessEntry, signal: number, who: Requester): Promise<SignalOutcome> {
  const client = cluster.clients.get(p.node)!;
  const [result] = await client.signal({
    targets: [{ pid: p.proc.pid, starttime: p.proc.starttime }],
    signal,
    uid: who.uid,
    requesterNode: who.node,
  });
  return result.outcome;
}

/** Signals every member of global process group `gpgrp` as listed in `table`. */
export async function signalGroup(cluster: Cluster, table: ClusterTable, gpgrp: number, signal: number, who: Requester): Promise<GroupResult> {
  const byNode = new Map<number, ProcessEntry[]>();
  for (const p of table.groupMembers(gpgrp)) {
    const list = byNode.get(p.node) ?? [];
    list.push(p);
    byNode.set(p.node, list);
  }
  const result: GroupResult = { delivered: [], gone: [], refused: [], unreachable: [], down: [] };
  await Promise.all(
    [...byNode].map(async ([node, members]) => {
      try {
        const results = await cluster.clients.get(node)!.signal({
          targets: members.map((m) => ({ pid: m.proc.pid, starttime: m.proc.starttime })),
          signal,
          uid: who.uid,
          requesterNode: who.node,
        });
        results.forEach((r, i) => {
          const list = r.outcome === 'DELIVERED' ? result.delivered : r.outcome === 'NOT_PERMITTED' ? result.refused : result.gone;
          list.push(members[i].gpid);
        });
      } catch {
        result.unreachable.push(node);
      }
    }),
  );
  result.down = [...table.nodes.values()].filter((n) => n.state === 'down').map((n) => n.config.id);
  result.unreachable.sort((a, b) => a - b);
  return result;
}
