/**
 * `gproc run --node N [--] CMD ARGS` (spec section 5): run CMD on node N like
 * `ssh host cmd` or `srun`: stdin, stdout and stderr streamed both ways over gRPC with
 * back-pressure, SIGINT/SIGTERM/SIGHUP forwarded to the remote process group, and the
 * remote exit status mirrored (128 + signal when killed). The environment and working
 * directory go along (as srun does); the process runs as the caller's uid and, in the
 * cluster view, is the caller's child, in the caller's process group and session.
 *
 * `--nodes LIST` runs it on several nodes at once, as pdsh and `srun -N` do: stdin goes to
 * every node, output comes back in whole lines (`-l` labels each with its node's name),
 * and the exit status is the worst (highest) of the nodes'.
 *
 * `-t` gives the command a terminal (one node): its stdin, stdout and stderr are a
 * pseudo-terminal on the node, of our terminal's size, and our terminal is in raw mode.
 *
 * Exit statuses of its own: 127 command not found, 126 not executable, 255 node not
 * answering (as ssh), 77 refused by the node (who we are, or admission), 1 other errors.
 */
import type { Command } from 'commander';
import { findNode, type ClusterConfig, type NodeConfig } from '../config';
import { action, CliError, clusterWithNodes, localNode, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('run'))
    .description(
      'run CMD on a node (or several) with its input and output streamed here, like ssh host cmd or srun',
    )
    .option('--node <id|name>', 'the node to run on')
    .option(
      '--nodes <list>',
      'run on several nodes at once: ids, names and ranges, e.g. 1-4,7,gpu1, or all',
    )
    .option('-l, --label', "prefix each output line with its node's name")
    .option(
      '-t, --tty',
      'give the command a terminal of our size (as ssh -t, srun --pty): for interactive tools',
    )
    .option(
      '--from <id|name>',
      'the node this machine is (default: $GPROC_NODE, else the node whose agent socket is here)',
    )
    .argument('<cmd...>', 'command and arguments (after --)')
    .passThroughOptions()
    .action(
      action(
        async (
          cmd: string[],
          opts: {
            config?: string;
            node?: string;
            nodes?: string;
            label?: boolean;
            tty?: boolean;
            from?: string;
          },
        ) => {
          const config = await clusterWithNodes(opts);
          if ((opts.node === undefined) === (opts.nodes === undefined))
            throw new CliError('give one of --node N or --nodes LIST');
          const nodes =
            opts.nodes !== undefined
              ? parseNodeList(config, opts.nodes)
              : [findNode(config, opts.node!)];
          if (cmd.length === 0 || cmd[0] === '') throw new CliError('empty command', 127);
          const [{ NodeClient, userAccess }, { runRemote }] = await Promise.all([
            import('../cluster/client'),
            import('./run-remote'),
          ]);
          const access = userAccess(config, localNode(config, opts.from));
          const clients = nodes.map((n) => new NodeClient(n, access));
          const status = await runRemote(clients, cmd, { label: opts.label, terminal: opts.tty });
          clients.forEach((c) => c.close());
          process.exit(status);
        },
      ),
    );
}

/**
 * The nodes of a list such as `1-4,7,gpu1` (ids, id ranges and names, comma-separated) or
 * `all`, each once, in the cluster file's order.
 * @throws ConfigError for a node the cluster file does not hold, CliError for a bad range.
 */
export function parseNodeList(config: ClusterConfig, list: string): NodeConfig[] {
  if (list.trim() === 'all') return [...config.nodes];
  const wanted = new Set<NodeConfig>();
  for (const item of list.split(',').map((s) => s.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(item);
    if (!range) {
      if (item === '') throw new CliError(`"${list}": an empty item in the node list`);
      wanted.add(findNode(config, item));
      continue;
    }
    const [lo, hi] = [Number(range[1]), Number(range[2])];
    if (lo > hi) throw new CliError(`"${item}": a range runs from low to high`);
    for (let id = lo; id <= hi; id++) wanted.add(findNode(config, id));
  }
  return config.nodes.filter((n) => wanted.has(n));
}
