/**
 * `gproc nodes` (spec section 2): one line per node of the cluster file: id, name, address,
 * state (up|down, by heartbeat), time since its last answer, round-trip time, process count,
 * agent version, its clock's offset from this machine's (a skewed clock makes start
 * times lie), and the age of what the view on this machine lists of it (`nodes/<id>/age`
 * under the mount, "-" with no mount here). It listens to the heartbeats for at most
 * `defaults.downAfterMs`, then asks each node that answered for its version.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaults } from '../defaults';
import { action, clusterWithNodes, localNode, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('nodes'))
    .description(
      'list the nodes: state, last answer, round trip, processes, agent version, clock offset, age in the view',
    )
    .option('--mount <dir>', 'the view whose ages to show', defaults.mountPoint)
    .action(
      action(async (opts: { config?: string; mount: string }) => {
        const [{ LivenessMonitor }, { NodeClient, userAccess }] = await Promise.all([
          import('../liveness/monitor'),
          import('../cluster/client'),
        ]);
        const config = await clusterWithNodes(opts);
        const monitor = new LivenessMonitor(config.nodes);
        await monitor.settle(defaults.downAfterMs);
        const access = userAccess(config, localNode(config));
        const rows = await Promise.all(
          config.nodes.map(async (n) => {
            const h = monitor.health(n.id);
            // Up: it answered, and has not gone silent since.
            const state = h.lastAnswerMs !== undefined && h.state === 'up' ? 'up' : 'down';
            let version = '-';
            if (state === 'up') {
              try {
                const client = new NodeClient(n, access);
                version = await client.nodeInfo().then(
                  (info) => info.version,
                  () => '?',
                );
                client.close();
              } catch {
                version = '?'; // no way to ask it from here (a user on a login host)
              }
            }
            const ms = (v: number | undefined, digits = 1) =>
              v === undefined ? '-' : `${v.toFixed(digits)}ms`;
            const age =
              h.lastAnswerMs === undefined
                ? 'never'
                : `${((Date.now() - h.lastAnswerMs) / 1000).toFixed(1)}s`;
            const offset =
              h.clockOffsetMs === undefined
                ? '-'
                : `${h.clockOffsetMs >= 0 ? '+' : ''}${h.clockOffsetMs.toFixed(1)}ms`;
            return [
              String(n.id),
              n.name,
              n.address,
              state,
              age,
              ms(h.rttMs, 2),
              h.processes === undefined ? '-' : String(h.processes),
              version,
              offset,
              viewAge(opts.mount, n.id),
            ];
          }),
        );
        monitor.close();
        const table = [
          ['ID', 'NAME', 'ADDRESS', 'STATE', 'LAST', 'RTT', 'PROCS', 'VERSION', 'OFFSET', 'AGE'],
          ...rows,
        ];
        const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
        process.stdout.write(
          table
            .map((r) =>
              r
                .map((c, i) => c.padEnd(widths[i]))
                .join('  ')
                .trimEnd(),
            )
            .join('\n') + '\n',
        );
        process.exit(rows.every((r) => r[3] === 'up') ? 0 : 1);
      }),
    );
}

/**
 * The age of node `id`'s listing in the view mounted at `mount` ("0.42s"), or "-": no view
 * mounted there, or the node is down or not in it.
 */
function viewAge(mount: string, id: number): string {
  try {
    const age = readFileSync(join(mount, 'nodes', String(id), 'age'), 'latin1').trim();
    return /^\d+(\.\d+)?$/.test(age) ? `${age}s` : '-';
  } catch {
    return '-';
  }
}
