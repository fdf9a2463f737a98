/**
 * What every command shares: the --config option, loading the cluster file, the one-line
 * error and exit status convention of spec section 6.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { configPath, findNode, loadConfig, type ClusterConfig } from '../config';

/** Adds `--config FILE` (default: $GPROC_CONFIG, else /etc/gproc/cluster.json). */
export function withConfig(cmd: Command): Command {
  return cmd.option(
    '--config <file>',
    'cluster file (default: $GPROC_CONFIG, else /etc/gproc/cluster.json)',
  );
}

/** Loads the cluster file named by --config / $GPROC_CONFIG / the default. */
export function clusterConfig(opts: { config?: string }): ClusterConfig {
  return loadConfig(configPath(opts.config));
}

/**
 * The cluster file with its nodes: the fixed list, or (with `membership`) the nodes
 * registered in etcd now (one read, within `defaults.etcdCallDeadlineMs`).
 * @throws ConfigError for a bad file, or when etcd does not answer.
 */
export async function clusterWithNodes(opts: { config?: string }): Promise<ClusterConfig> {
  const config = clusterConfig(opts);
  if (config.membership) {
    const { readMembers } = await import('../cluster/etcd-membership');
    config.nodes = await readMembers(config);
  }
  return config;
}

/** A failure to report as `gproc: <message>` with this exit status. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Prints a one-line error on stderr and leaves with its status (1 unless the error says). */
export function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`gproc: ${message.split('\n')[0]}\n`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
}

/** Runs an async command action, turning any error into the one-line form. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

/** Exit status of a command whose node refused who we are (certificate, credential) or did not admit us (EX_NOPERM). */
export const REFUSED_EXIT = 77;

/**
 * The node this machine is (spec section 2): `--node`, else $GPROC_NODE (which agents set
 * for every process they start), else the one node of the cluster file whose agent socket
 * exists here.
 * @returns 0 when none can be told (a login host, or several sockets here).
 * @throws ConfigError for a --node or $GPROC_NODE the cluster file does not hold.
 */
export function localNode(config: ClusterConfig, flag?: string): number {
  const named = flag ?? process.env.GPROC_NODE;
  if (named) return findNode(config, named).id;
  const here = config.nodes.filter((n) => existsSync(n.socket));
  return here.length === 1 ? here[0].id : 0;
}

/**
 * Keeps a daemon (agent, mount) running through a failure no handler caught: the error is
 * logged and the daemon goes on serving, as a dead node or a bad request must never take
 * it down.
 */
export function surviveUncaught(log: { error(obj: object, msg: string): void }): void {
  process.on('uncaughtException', (err) =>
    log.error({ err }, 'uncaught exception (the daemon keeps running)'),
  );
  process.on('unhandledRejection', (err) =>
    log.error({ err }, 'unhandled rejection (the daemon keeps running)'),
  );
}
