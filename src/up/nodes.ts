/**
 * Launching agents for `gproc up`: on this machine as it is, or as simulated nodes, each in
 * its own PID namespace (its processes get PIDs of their own, as on a separate machine),
 * its own mount namespace (for its /proc), time namespace (its own boot time) and UTS
 * namespace (its own host name).
 * A simulated node's init is /bin/sh, which reaps orphans; killing it ends the node.
 */
import { defaults } from '../defaults';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { loadConfig, type ClusterConfig, type NodeConfig } from '../config';
import { pollUntil } from '../poll';
import { parseStatusLines } from '../procfs/status';

/** The gproc command line: the script this process runs, by this very node binary. */
const GPROC = [process.execPath, process.argv[1]];

export interface LaunchedNode {
  id: number;
  /** Host PID of the process to kill to stop the node (agent, or namespace init). */
  pid: number;
  /** Host PID of the namespace's init (simulated nodes), else the agent's. */
  initPid: number;
  stop: () => void;
}

export interface LaunchOptions {
  id: number;
  configPath: string;
  /** Where the agent's log goes. */
  logFile: string;
  /** Where the agent's audit log goes (default: the agent's default). */
  auditLog?: string;
  /** The agent's state directory (default: the agent's default). */
  stateDir?: string;
  /** Run in fresh PID, mount and time namespaces (a simulated node). */
  simulate: boolean;
  /** Seconds added to a simulated node's boot clock. */
  bootOffset?: number;
  /** Shell commands run in the node before its agent (demo or test processes). */
  preamble?: string;
  /** A simulated node's host name (it gets a UTS namespace of its own). */
  hostname?: string;
  /** The gproc command to run (default: the CLI this module belongs to). */
  gproc?: string[];
  /**
   * argv prefix that the node's launcher runs under (a simulated node only): e.g.
   * `nsenter --net=/run/netns/H --`, which puts the node on a test host of its own.
   */
  prefix?: string[];
  /** More arguments for the agent (a cluster with etcd membership: --name, --address...). */
  agentArgs?: string[];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The shell command that runs node `id`'s agent (also usable through nsenter). */
export function agentCommand(
  opts: Pick<
    LaunchOptions,
    'id' | 'configPath' | 'logFile' | 'auditLog' | 'stateDir' | 'gproc' | 'agentArgs'
  >,
): string {
  return `${agentArgv(opts).map(shellQuote).join(' ')} 2>>${shellQuote(opts.logFile)}`;
}

function agentArgv(
  opts: Pick<LaunchOptions, 'id' | 'configPath' | 'auditLog' | 'stateDir' | 'gproc' | 'agentArgs'>,
): string[] {
  const audit = opts.auditLog ? ['--audit-log', opts.auditLog] : [];
  const state = opts.stateDir ? ['--state-dir', opts.stateDir] : [];
  return [
    ...(opts.gproc ?? GPROC),
    'agent',
    '--config',
    opts.configPath,
    '--node',
    String(opts.id),
    ...audit,
    ...state,
    ...(opts.agentArgs ?? []),
    '--insecure',
  ];
}

/** The children of a host process. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The command prefix that runs a command as a process of the simulated node whose init is
 * host process `initPid`: in its PID, mount (its /proc), time and network namespaces.
 */
export function inNamespaces(initPid: number): string[] {
  return ['nsenter', '-t', String(initPid), '-p', '-m', '-T', '-n', '--'];
}

/** Host PIDs of the processes in the PID namespace of host process `initPid`. */
export function hostPidsIn(initPid: number): number[] {
  const ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  return readdirSync('/proc').flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    try {
      return readlinkSync(`/proc/${name}/ns/pid`) === ns ? [Number(name)] : [];
    } catch {
      return []; // ended meanwhile
    }
  });
}

/**
 * The host PID of the process that the simulated node whose init is host process `initPid`
 * knows as `pid` (the last value of its NSpid line, proc(5)).
 * @returns undefined when the node has no such process.
 */
export function hostPidOf(initPid: number, pid: number): number | undefined {
  return hostPidsIn(initPid).find((host) => {
    try {
      const nspid = parseStatusLines(readFileSync(`/proc/${host}/status`))
        .find((l) => l.key === 'NSpid')
        ?.value.split('\t');
      return Number(nspid?.[nspid.length - 1]) === pid;
    } catch {
      return false; // ended meanwhile
    }
  });
}

/**
 * Starts one node's agent.
 * @returns once the processes are started (not yet serving: ask the agent).
 */
export async function launchNode(opts: LaunchOptions): Promise<LaunchedNode> {
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  if (!opts.simulate) {
    const log = openSync(opts.logFile, 'a');
    const argv = agentArgv(opts);
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log], detached: true });
    closeSync(log); // the agent has its own copy
    child.unref();
    return { id: opts.id, pid: child.pid!, initPid: child.pid!, stop: () => kill(child.pid!) };
  }
  const script = [
    opts.hostname ? `hostname ${shellQuote(opts.hostname)}` : '',
    opts.preamble ?? '',
    `${agentCommand(opts)} &`,
    // The namespace's init: `wait` reaps every child, re-parented orphans included.
    'while :; do wait; sleep 3600; done',
  ].join('\n');
  const args = [
    '--pid',
    '--fork',
    '--mount-proc',
    '--uts',
    '--time',
    '--boottime',
    String(opts.bootOffset ?? 0),
    '--',
    '/bin/sh',
    '-c',
    script,
  ];
  const argv = [...(opts.prefix ?? []), 'unshare', ...args];
  // (nsenter execs unshare: the launcher's child is the namespace's init either way)
  const launcher: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: 'ignore', detached: true });
  launcher.unref();
  const initPid = await pollUntil(
    `node ${opts.id}'s namespace`,
    () => {
      if (launcher.exitCode !== null) throw new Error('unshare ended');
      return childrenOf(launcher.pid!)[0];
    },
    defaults.namespaceStartMs,
    20,
  ).catch((err: unknown) => {
    // Not started in time: a namespace that starts later must not be left running.
    try {
      process.kill(-launcher.pid!, 'SIGKILL'); // its process group (detached: its own)
    } catch {
      // already gone
    }
    throw err;
  });
  return {
    id: opts.id,
    pid: launcher.pid!,
    initPid,
    stop: () => {
      kill(initPid);
      kill(launcher.pid!);
    },
  };
}

/** Nodes launched from one cluster file. */
export interface LaunchedCluster {
  config: ClusterConfig;
  nodes: LaunchedNode[];
  /** Stops every node. */
  stop: () => void;
}

/** What a cluster file may hold besides its nodes. */
export type ClusterExtras = Partial<Pick<ClusterConfig, 'tls' | 'admission'>>;

/**
 * Writes the cluster file `configPath` for `nodes` (with `extras`, if given) and launches every
 * node's agent, in parallel, with the options `launch` gives for it. If one cannot start,
 * those that did are stopped.
 * @returns once the processes are started (the agents are not serving yet: ask them).
 * @throws ConfigError for a cluster file that breaks spec section 2; Error when a
 *   simulated node's namespaces do not start.
 */
export async function launchCluster(
  configPath: string,
  nodes: NodeConfig[],
  launch: (node: NodeConfig) => Omit<LaunchOptions, 'id' | 'configPath'>,
  extras: ClusterExtras = {},
): Promise<LaunchedCluster> {
  writeFileSync(configPath, `${JSON.stringify({ nodes, ...extras }, null, 2)}\n`);
  const config = loadConfig(configPath);
  const results = await Promise.allSettled(
    nodes.map((n) => launchNode({ ...launch(n), id: n.id, configPath })),
  );
  const launched = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = () => launched.forEach((l) => l.stop());
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    stop();
    throw failed.reason;
  }
  return { config, nodes: launched, stop };
}
