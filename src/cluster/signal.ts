/**
 * Forwarded signals (spec section 4), shared by `<gpid>/ctl` and `gproc kill`.
 * A signal names its target by pid and the start time the table listed, so the owning
 * agent refuses a PID that was reused. A group signal goes to every process whose global
 * process group is the target's, on every node that answers, one call per node in
 * parallel; the nodes that did not answer are reported.
 */
import { processRef } from './client';
import type { SignalResult__Output } from '../proto/gen/gproc/v1/SignalResult';
import type { Cluster } from './cluster';
import type { ClusterTable, ProcessEntry } from './table';
import type { ActAs } from './transport';

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
 * What failed in a group signal, most serious first: nodes with members that did not
 * answer, members the user may not signal, and, when nothing else failed and no member
 * got the signal, that no member is left. Empty when the signal reached the group.
 */
export type GroupFailure =
  { kind: 'unreachable'; node: number } | { kind: 'refused'; gpid: number } | { kind: 'empty' };

/** The failures of a group signal (GroupFailure), for `ctl` and `gproc kill -g` alike. */
export function groupFailures(r: GroupResult): GroupFailure[] {
  const failures: GroupFailure[] = [
    ...r.unreachable.map((node) => ({ kind: 'unreachable' as const, node })),
    ...r.refused.map((gpid) => ({ kind: 'refused' as const, gpid })),
  ];
  if (failures.length === 0 && r.delivered.length === 0) failures.push({ kind: 'empty' });
  return failures;
}

/**
 * Signals one listed process through its node's agent, acting for `as` (a daemon names
 * the user; a user's CLI acts for itself).
 * @returns the agent's outcome (DELIVERED, NO_SUCH_PROCESS, NOT_PERMITTED).
 * @throws the gRPC error when the node does not answer in its deadline.
 */
export async function signalProcess(
  cluster: Cluster,
  p: ProcessEntry,
  signal: number,
  as?: ActAs,
): Promise<SignalOutcome> {
  const client = cluster.clients.get(p.node)!;
  const [result] = await client.signal({ targets: [processRef(p.proc)], signal }, as);
  return result.outcome;
}

/** Signals every member of global process group `gpgrp` as listed in `table`. */
export async function signalGroup(
  cluster: Cluster,
  table: ClusterTable,
  gpgrp: number,
  signal: number,
  as?: ActAs,
): Promise<GroupResult> {
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
        const results = await cluster.clients
          .get(node)!
          .signal({ targets: members.map((m) => processRef(m.proc)), signal }, as);
        results.forEach((r, i) => {
          const list =
            r.outcome === 'DELIVERED'
              ? result.delivered
              : r.outcome === 'NOT_PERMITTED'
                ? result.refused
                : result.gone;
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
