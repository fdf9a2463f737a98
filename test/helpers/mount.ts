/**
 * Mounts and tools for tests: `gproc mount` run as a user would run it, tools run through
 * `gproc exec` over a mount, and the same tools run inside a node (nsenter into its PID,
 * mount and time namespaces) to compare with.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { CLI, waitFor, type TestCluster, type TestNode } from './cluster';

export interface TestMount {
  mountPoint: string;
  process: ChildProcess;
  logFile: string;
  /** Ctrl-C: unmounts cleanly. */
  stop(): Promise<void>;
}

/** Starts `gproc mount` for `cluster` and waits until the view answers. */
export async function startMount(t: Test, cluster: TestCluster, opts: { node?: number; mountPoint?: string } = {}): Promise<TestMount> {
  const mountPoint = opts.mountPoint ?? mkdtempSync(join(tmpdir(), 'gproc-mnt-'));
  const logFile = join(cluster.dir, `mount-${opts.node ?? 0}-${Date.now()}.log`);
  const log = openSync(logFile, 'a');
  const args = [CLI, 'mount', '--config', cluster.configPath, ...(opts.node ? ['--node', String(opts.node)] : []), mountPoint];
  const child = spawn('node', args, { stdio: ['ignore', log, log] });
  // readdir always reaches the daemon (a stale mount's cached entries could still stat).
  await waitFor(`mount at ${mountPoint}`, () => readdirSync(mountPoint).includes('nodes') || undefined);
  const mount: TestMount = {
    mountPoint,
    process: child,
    logFile,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    },
  };
  t.teardown(() => mount.stop());
  return mount;
}

/** Runs a command with the mount as /proc (`gproc exec --mount DIR -- argv`). */
export function inView(mount: TestMount, argv: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('node', [CLI, 'exec', '--mount', mount.mountPoint, '--', ...argv], {
    encoding: 'utf8',
    input,
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** Runs a command inside a node, as one of its own processes. */
export function inNode(node: TestNode, argv: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync('nsenter', ['-t', String(node.initPid), '-p', '-m', '-T', '--', ...argv], {
    encoding: 'utf8',
    env,
    maxBuffer: 256 * 1024 * 1024,
  });
}
