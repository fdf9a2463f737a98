/**
 * `gproc run --node N [--] CMD ARGS` (spec section 5): run CMD on node N like
 * `ssh host cmd` or `srun`: stdin, stdout and stderr streamed both ways over gRPC with
 * back-pressure, SIGINT/SIGTERM/SIGHUP forwarded to the remote process group, and the
 * remote exit status mirrored (128 + signal when killed). The environment and working
 * directory go along (as srun does); the process runs as the caller's uid and, in the
 * cluster view, is the caller's child, in the caller's process group and session.
 *
 * Exit statuses of its own: 127 command not found, 126 not executable, 255 node not
 * answering (as ssh), 77 refused by the node (who we are, or admission), 1 other errors.
 */
import type { Command } from 'commander';
import { findNode } from '../config';
import { action, CliError, clusterConfig, localNode, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('run'))
    .description(
      'run CMD on a node with its input and output streamed here, like ssh host cmd or srun',
    )
    .requiredOption('--node <id|name>', 'the node to run on')
    .option(
      '--from <id|name>',
      'the node this machine is (default: $GPROC_NODE, else the node whose agent socket is here)',
    )
    .argument('<cmd...>', 'command and arguments (after --)')
    .passThroughOptions()
    .action(
      action(async (cmd: string[], opts: { config?: string; node: string; from?: string }) => {
        const config = clusterConfig(opts);
        const [{ NodeClient, userAccess }, { runRemote }] = await Promise.all([
          import('../cluster/client'),
          import('./run-remote'),
        ]);
        const node = findNode(config, opts.node);
        if (cmd.length === 0 || cmd[0] === '') throw new CliError('empty command', 127);
        const client = new NodeClient(node, userAccess(config, localNode(config, opts.from)));
        const status = await runRemote(client, cmd);
        client.close();
        process.exit(status);
      }),
    );
}
