/** `gproc agent [--config FILE] [--node N] [--insecure]`: serve this node's processes (spec section 2). */
import type { Command } from 'commander';
import { findNode } from '../config';
import { defaults } from '../defaults';
import { action, CliError, clusterConfig, surviveUncaught, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('agent'))
    .description(
      "serve this node's process table over gRPC at the address the cluster file gives it",
    )
    .option(
      '--node <id|name>',
      'which node of the cluster file this is (default: $GPROC_NODE; with "membership": its id, as its certificate says)',
    )
    .option('--name <name>', 'with "membership": the node name it registers in etcd')
    .option(
      '--address <host:port>',
      'with "membership": the address it listens on and registers in etcd',
    )
    .option(
      '--socket <path>',
      `with "membership": its local Unix socket (default ${defaults.agentSocket})`,
    )
    .option('--insecure', 'plaintext gRPC (allowed only on loopback)', false)
    .option(
      '--audit-log <file>',
      'audit log: one JSON line per signal, spawn, run and refusal',
      defaults.auditLog,
    )
    .option(
      '--state-dir <dir>',
      `records of the processes it started, kept across its restarts (default: ${defaults.stateDir}/<node name>)`,
    )
    .action(
      action(
        async (opts: {
          config?: string;
          node?: string;
          insecure: boolean;
          auditLog: string;
          stateDir?: string;
          name?: string;
          address?: string;
          socket?: string;
        }) => {
          const [{ startAgent }, { createLogger }] = await Promise.all([
            import('../agent/server'),
            import('../log'),
          ]);
          const node = opts.node ?? process.env.GPROC_NODE;
          if (!node)
            throw new CliError(
              'which node is this? give --node N or set GPROC_NODE (the units read /etc/default/gproc)',
            );
          const config = clusterConfig(opts);
          const id = config.membership ? Number(node) : findNode(config, node).id;
          const log = createLogger('agent', { node: id });
          surviveUncaught(log);
          const agent = await startAgent({
            config,
            node,
            insecure: opts.insecure,
            auditLog: opts.auditLog,
            stateDir: opts.stateDir,
            register:
              opts.name !== undefined || opts.address !== undefined
                ? { name: opts.name ?? '', address: opts.address ?? '', socket: opts.socket }
                : undefined,
            log,
          });
          const stop = () => void agent.close().then(() => process.exit(0));
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        },
      ),
    );
}
