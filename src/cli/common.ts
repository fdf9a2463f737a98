/**
 * What every command shares: the --config option, loading the cluster file, the one-line
 * error and exit status convention of spec section 6.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { configPath, loadConfig, type ClusterConfig } from '../config';
import { isNodeId } from '../gpid';
import { parsePidStat } from '../procfs/stat';

/** Adds `--config FILE` (default: $GPROC_CONFIG, else /etc/gproc/cluster.json). */
export function withConfig(cmd: Command): Command {
  return cmd.option('--config <file>', 'cluster file (default: $GPROC_CONFIG, else /etc/gproc/cluster.json)');
}

/** Loads the cluster file named by --config / $GPROC_CONFIG / the default. */
export function clusterConfig(opts: { config?: string }): ClusterConfig {
  return loadConfig(configPath(opts.config));
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
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

/**
 * The node this process runs on: $GPROC_NODE, which agents set for every process they
 * start (and `gproc up` for its own).
 * @returns 0 when it is unset or not a node id.
 */
export function requesterNode(): number {
  const node = Number(process.env.GPROC_NODE);
  return isNodeId(node) ? node : 0;
}

/**
 * This process as a cluster requester: its node (`requesterNode`), pid, process group and
 * session (/proc/self/stat, proc(5)).
 * @returns undefined when this machine is not a node of the cluster.
 */
export function requesterOrigin(): { node: number; pid: number; pgrp: number; session: number } | undefined {
  const node = requesterNode();
  if (node === 0) return undefined;
  try {
    const { pgrp, session } = parsePidStat(readFileSync('/proc/self/stat'));
    return { node, pid: process.pid, pgrp, session };
  } catch {
    return undefined;
  }
}

/**
 * Keeps a daemon (agent, mount) running through a failure no handler caught: the error is
 * logged and the daemon goes on serving, as a dead node or a bad request must never take
 * it down.
 */
export function surviveUncaught(log: { error(obj: object, msg: string): void }): void {
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (the daemon keeps running)'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (the daemon keeps running)'));
}
