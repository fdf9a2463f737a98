/**
 * What every command shares: the --config option, loading the cluster file, the one-line
 * error and exit status convention of spec section 6.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { configPath, loadConfig, type ClusterConfig } from '../config';

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
 * This process as a cluster requester: its node ($GPROC_NODE, which agents set for every
 * process they start), pid, process group and session (from /proc/self/stat).
 * @returns undefined when this machine is not a node of the cluster.
 */
export function requesterOrigin(): { node: number; pid: number; pgrp: number; session: number } | undefined {
  const node = Number(process.env.GPROC_NODE);
  if (!Number.isInteger(node) || node < 1) return undefined;
  try {
    const text = readFileSync('/proc/self/stat', 'latin1');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { node, pid: process.pid, pgrp: Number(fields[2]), session: Number(fields[3]) };
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
