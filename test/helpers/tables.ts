// Hand-built cluster tables over the fixture tree (test/fixtures/proc), for the table tests
// that need neither root nor FUSE. Every node of such a table is the same fixture machine,
// booted `bootOffset` seconds before the fixture's btime.
import { join } from 'node:path';
import { buildTable, type ClusterTable, type NodeResult } from '../../src/cluster/table';
import type { NodeConfig } from '../../src/config';
import { listPids, readNodeFiles, readProcesses } from '../../src/procfs/read';
import type { Snapshot__Output } from '../../src/proto/gen/gproc/v1/Snapshot';

export const FIXTURE = join(__dirname, '..', 'fixtures', 'proc');
/** btime of the fixture's stat, seconds since the epoch. */
export const FIXTURE_BTIME = 1795982912;
/** When the hand-built snapshots were taken, ms since the epoch. */
export const TAKEN_AT_MS = (FIXTURE_BTIME + 3600) * 1000;

export const config = (id: number): NodeConfig => ({
  id,
  name: `n${id}`,
  address: `10.0.0.${id}:7000`,
  socket: `/run/gproc-${id}.sock`,
});

/** The fixture machine as node `id`'s snapshot; `more` replaces or adds fields. */
export function snapshot(
  id: number,
  more: Partial<Snapshot__Output> & { bootOffset?: number } = {},
): Snapshot__Output {
  const { bootOffset = 0, ...fields } = more;
  return {
    node: {
      id,
      name: `n${id}`,
      bootTime: FIXTURE_BTIME - bootOffset,
      clockTicks: 100,
      pageSize: 4096,
      files: readNodeFiles(FIXTURE),
      version: 'test',
    },
    takenAtMs: TAKEN_AT_MS,
    processes: readProcesses(FIXTURE, listPids(FIXTURE)).processes,
    started: [],
    ended: [],
    ...fields,
  };
}

export const up = (id: number, more?: Parameters<typeof snapshot>[1]): NodeResult => ({
  config: config(id),
  snapshot: snapshot(id, more),
});

export const down = (id: number, error = 'UNAVAILABLE'): NodeResult => ({
  config: config(id),
  error,
});

/** A table of the given node results (generation 1, no previous table). */
export const table = (...results: NodeResult[]): ClusterTable => buildTable(results, undefined, 1);
