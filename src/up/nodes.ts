/**
 * Launching agents for `gproc up`: on this machine as it is, or as simulated nodes, each in
 * its own PID namespace (its processes get PIDs of their own, as on a separate machine),
 * its own mount namespace (for its /proc), time namespace (its own boot time) and UTS
 * namespace (its own host name).
 * A simulated node's init is /bin/sh, which reaps orphans; killing it ends the node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';

/** The gproc command line: the script this process runs, by this very node binary. */
const GPROC = [process.execPath, process.argv[1]];

export interface LaunchedNode {
  id: number;
  /** Host PID of the process to kill to stop the node (agent, or namespace init). */
  pid: number;
  /** Host PID of the namespace's init (simulated nodes), else the agent's. */
  initPid: number;
  stop(): void;
}

export interface LaunchOptions {
  id: number;
  configPath: string;
  /** Where the agent's log goes. */
  logFile: string;
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
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The shell command that runs node `id`'s agent (also usable through nsenter). */
export function agentCommand(opts: Pick<LaunchOptions, 'id' | 'configPath' | 'logFile' | 'gproc'>): string {
  return `${agentArgv(opts).map(shellQuote).join(' ')} 2>>${shellQuote(opts.logFile)}`;
}

function agentArgv(opts: Pick<LaunchOptions, 'id' | 'configPath' | 'gproc'>): string[] {
  return [...(opts.gproc ?? GPROC), 'agent', '--config', opts.configPath, '--node', String(opts.id), '--insecure'];
}

/** The children of a host process. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
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
  const args = ['--pid', '--fork', '--mount-proc', '--uts', '--time', '--boottime', String(opts.bootOffset ?? 0), '--', '/bin/sh', '-c', script];
  const launcher: ChildProcess = spawn('unshare', args, { stdio: 'ignore', detached: true });
  launcher.unref();
  const initPid = await new Promise<number>((resolve, reject) => {
    const deadline = Date.now() + 10000;
    const poll = () => {
      const init = childrenOf(launcher.pid!)[0];
      if (init) return resolve(init);
      if (Date.now() > deadline || launcher.exitCode !== null) return reject(new Error(`node ${opts.id}: unshare did not start`));
      setTimeout(poll, 20);
    };
    poll();
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
