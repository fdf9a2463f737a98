/**
 * `gproc kill [-SIG] GPID...` and `gproc kill -g [-SIG] GPID` (spec section 4): signal
 * processes of any node through their agents, or a whole global process group. SIG is a
 * name with or without SIG, or a number; `-s SIG` works too. One line per failure on
 * stderr; exit 0 only if every signal was delivered.
 */
import type { Command } from 'commander';
import { action, CliError, clusterWithNodes, localNode } from './common';

/** Parses kill's own argument syntax (`-TERM`, `-9`, `-s TERM`, `-g`, `--config FILE`). */
export function parseKillArgs(args: string[]): {
  signal: string;
  group: boolean;
  config?: string;
  targets: string[];
} {
  let signal: string | undefined;
  let group = false;
  const setSignal = (sig: string) => {
    if (signal !== undefined) throw new CliError(`two signals given (${signal} and ${sig})`);
    signal = sig;
  };
  let config: string | undefined;
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      targets.push(...args.slice(i + 1));
      break;
    } else if (a === '-g' || a === '--group') group = true;
    else if (a === '-s' || a === '--signal') setSignal(args[++i] ?? '');
    else if (a === '--config') config = args[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (/^-[A-Za-z0-9+]+$/.test(a)) setSignal(a.slice(1));
    else targets.push(a);
  }
  if (targets.length === 0)
    throw new CliError('usage: gproc kill [-SIG] GPID... | gproc kill -g [-SIG] GPID');
  if (group && targets.length !== 1)
    throw new CliError('kill -g takes one GPID (a member of the group)');
  return { signal: signal ?? 'TERM', group, config, targets };
}

export function register(program: Command): void {
  program
    .command('kill')
    .description('send a signal to processes of any node (-g: to a global process group)')
    .usage('[-SIG | -s SIG] [-g] [--config FILE] GPID...')
    .argument('<args...>', 'signal, options and global pids (numbers or NODE:PID)')
    .allowUnknownOption()
    .helpOption('--help', 'display help for kill')
    .action(
      action(async (args: string[]) => {
        const opts = parseKillArgs(args);
        const [
          { parseSignal },
          { parseGpid, formatGpid, decodeGpid },
          { Cluster },
          { createLogger },
          { groupFailures, signalGroup },
          { rpcReason, isRefusal, userAccess, processRef },
          { status: grpcStatus },
        ] = await Promise.all([
          import('../signals'),
          import('../gpid'),
          import('../cluster/cluster'),
          import('../log'),
          import('../cluster/signal'),
          import('../cluster/client'),
          import('@grpc/grpc-js'),
        ]);
        const signal = parseSignal(opts.signal);
        const gpids = opts.targets.map(parseGpid);
        const config = await clusterWithNodes(opts);
        const cluster = new Cluster(
          userAccess(config, localNode(config)),
          createLogger('kill', {}, 'silent'),
        );
        let failures = 0;
        const report = (gpid: number, why: string) => {
          failures++;
          process.stderr.write(`gproc: kill ${gpid} (${formatGpid(gpid)}): ${why}\n`);
        };
        if (opts.group) {
          const table = await cluster.refresh();
          const target = table.processes.get(gpids[0]);
          if (!target)
            report(
              gpids[0],
              table.nodes.get(decodeGpid(gpids[0]).node)?.state === 'down'
                ? 'its node is down'
                : 'no such process',
            );
          else if (target.pgrp <= 0)
            report(
              gpids[0],
              'it has no process group in the cluster (its group lies outside its node)',
            );
          else {
            const r = await signalGroup(cluster, table, target.pgrp, signal);
            for (const f of groupFailures(r)) {
              if (f.kind === 'refused') report(f.gpid, 'operation not permitted');
              else if (f.kind === 'empty') report(gpids[0], 'no process of its group is left');
              else {
                failures++;
                process.stderr.write(
                  `gproc: kill -g: node ${f.node} did not answer; its members of group ${target.pgrp} were not signalled\n`,
                );
              }
            }
            for (const n of r.down)
              process.stderr.write(
                `gproc: kill -g: note: node ${n} is down; its processes (if any) were not signalled\n`,
              );
          }
        } else {
          await Promise.all(
            gpids.map(async (gpid) => {
              const client = cluster.clientFor(gpid);
              if (!client) return report(gpid, 'its node is not in the cluster file');
              try {
                const [r] = await client.signal({
                  targets: [processRef(decodeGpid(gpid).pid)],
                  signal,
                });
                if (r.outcome === 'NO_SUCH_PROCESS') report(gpid, 'no such process');
                else if (r.outcome === 'NOT_PERMITTED') report(gpid, 'operation not permitted');
              } catch (err) {
                const denied = (err as { code?: number }).code === grpcStatus.PERMISSION_DENIED;
                if (isRefusal(err)) report(gpid, `refused by its node: ${rpcReason(err)}`);
                else
                  report(
                    gpid,
                    denied
                      ? `operation not permitted: ${rpcReason(err)}`
                      : `its node does not answer: ${rpcReason(err)}`,
                  );
              }
            }),
          );
        }
        cluster.close();
        process.exit(failures ? 1 : 0);
      }),
    );
}
