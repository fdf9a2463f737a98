/**
 * Benchmark fixtures: simulated nodes (as `gproc up --simulate` starts them) with many
 * sleeping processes each, a mount of their view in this process (so its FUSE request
 * counts can be read), and shell loops that time one command per iteration from inside a
 * namespace, so that process start-up of the timing harness is not measured.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeClient } from '../cluster/client';
import type { ClusterConfig } from '../config';
import { pollUntil } from '../poll';
import { inNamespaces, launchCluster, type LaunchedNode } from '../up/nodes';
import { makeCertificates } from '../cli/certs';
import { fuseOptionString } from '../fs/fuse';
import { parsePidStat, StatField } from '../procfs/stat';
import { parseStatusLines } from '../procfs/status';
import { VIEW_MOUNT_OPTIONS } from '../fs/mount';

/** The gproc command (the bundle next to this one), for benchmarks that run it as users do. */
export const CLI = join(__dirname, 'gproc.js');

export interface BenchCluster {
  dir: string;
  configPath: string;
  config: ClusterConfig;
  nodes: LaunchedNode[];
  clients: NodeClient[];
  stop(): void;
}

/** Starts `count` simulated nodes with `perNode` sleeping processes each (besides init and agent). */
export async function startNodes(
  count: number,
  perNode: number,
  firstPort: number,
): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gproc-bench-'));
  const configPath = join(dir, 'cluster.json');
  const nodes = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    name: `b${i + 1}`,
    address: `127.0.0.1:${firstPort + i}`,
    socket: join(dir, `agent-${i + 1}.sock`),
  }));
  const preamble = `i=0; while [ $i -lt ${perNode} ]; do sleep 100000 </dev/null >/dev/null 2>&1 & i=$((i+1)); done`;
  // Per-node certificates, as a real cluster has: users reach other nodes over TLS.
  const tls = makeCertificates(join(dir, 'pki'), nodes);
  const cluster = await launchCluster(
    configPath,
    nodes,
    (n) => ({
      logFile: join(dir, `agent-${n.id}.log`),
      auditLog: join(dir, `audit-${n.id}.log`),
      stateDir: join(dir, `state-${n.id}`),
      simulate: true,
      bootOffset: n.id * 100,
      preamble,
      gproc: [process.execPath, CLI],
    }),
    { tls },
  );
  // Each node's own socket (the tests' and benchmarks' process holds them all).
  const clients = cluster.config.nodes.map(
    (n) => new NodeClient(n, { config: cluster.config, self: n.id, role: 'daemon' }),
  );
  const stop = () => {
    clients.forEach((c) => c.close());
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      clients.map((c) =>
        pollUntil(
          `bench node ${c.node.id} with its processes`,
          async () => (await c.snapshot(5000)).processes.length >= perNode,
          // Each node starts its processes one by one before its agent, all nodes at once on
          // this machine's CPUs: 30 s, and 10 ms more per process (4 x 1,000 under load took
          // more than 30 s).
          30000 + 10 * count * perNode,
          200,
        ),
      ),
    );
  } catch (err) {
    stop();
    throw err;
  }
  return { dir, configPath, config: cluster.config, nodes: cluster.nodes, clients, stop };
}

/** Host PID of the agent a simulated node's init started (its child running `agent`). */
export function agentHostPid(initPid: number): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
      if (ppid === initPid && argv.includes('agent')) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no agent under host pid ${initPid}`);
}

/**
 * What a process has cost so far: bytes it wrote (its wchar: files, pipes and sockets),
 * CPU clock ticks (user + system), and its resident memory, bytes: all of it (VmRSS), and
 * the anonymous part (RssAnon: V8's heap, ArrayBuffers, malloc). The rest is mostly the
 * node binary's pages (40-47 MB), file-backed and shared by every Node process of the
 * machine, so the anonymous part is what a daemon adds and what grows with its processes.
 */
export function processCost(pid: number): {
  bytes: number;
  ticks: number;
  rssBytes: number;
  anonBytes: number;
} {
  const wchar = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'latin1'));
  const stat = parsePidStat(readFileSync(`/proc/${pid}/stat`));
  const status = parseStatusLines(readFileSync(`/proc/${pid}/status`));
  // "VmRSS:\t  123456 kB"
  const kB = (key: string) => parseInt(status.find((l) => l.key === key)?.value.trim() ?? '0', 10);
  return {
    bytes: Number(wchar![1]),
    ticks: stat.utime + stat.stime,
    rssBytes: kB('VmRSS') * 1024,
    anonBytes: kB('RssAnon') * 1024,
  };
}

/**
 * CPU clock ticks (user + system) a process has used so far, and those of its children it
 * has reaped (with theirs): the cost of a daemon, and of what it started and waited for.
 */
export function cpuTicks(pid: number): { own: number; reaped: number } {
  const stat = parsePidStat(readFileSync(`/proc/${pid}/stat`));
  const field = (n: number) => Number(stat.rest[n - 3]);
  return {
    own: stat.utime + stat.stime,
    reaped: field(StatField.cutime) + field(StatField.cstime),
  };
}

/** A `gproc mount` of a bench cluster, run as users run it. */
export interface BenchMount {
  mountPoint: string;
  /** Host PID of the mount daemon. */
  pid: number;
  /** FUSE requests served so far, by operation (asked with SIGUSR2, read from its log). */
  counts(): Promise<Record<string, number>>;
  /** Processes listed at the top of the view. */
  processes(): number;
  stop(): Promise<void>;
}

/**
 * Mounts the cluster's view with `gproc mount` in a process of its own. (Not in this
 * process: the benchmark's children would inherit the /dev/fuse descriptor, and a child
 * that holds it keeps the connection alive after the daemon is gone.)
 */
export async function mountView(cluster: BenchCluster, mountPoint: string): Promise<BenchMount> {
  const logFile = join(cluster.dir, `mount-${Date.now()}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [CLI, 'mount', '--config', cluster.configPath, mountPoint],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  await pollUntil(
    `gproc mount (see ${logFile})`,
    () => readdirSync(mountPoint).includes('nodes'),
    15000,
  );
  const reports = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"FUSE requests"'));
  return {
    mountPoint,
    pid: child.pid!,
    counts: async () => {
      const seen = reports().length;
      child.kill('SIGUSR2');
      const lines = await pollUntil(
        'gproc mount to report its FUSE requests',
        () => (reports().length > seen ? reports() : undefined),
        5000,
        20,
      );
      return (JSON.parse(lines[lines.length - 1]) as { requests: Record<string, number> }).requests;
    },
    processes: () => readdirSync(mountPoint).filter((n) => /^\d+$/.test(n)).length,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * Runs `command` `runs` times in one shell and returns each run's wall time, ms.
 * Asynchronous: the view may be served by this very process.
 * @param prefix how to enter the place the shell runs in (nsenter ..., unshare ...).
 * @param setup shell commands run once before the loop (a bind mount over /proc).
 * @param pauseS seconds to sleep between runs (0: back to back).
 */
export async function timeLoop(
  prefix: string[],
  setup: string,
  command: string,
  runs: number,
  pauseS = 0,
): Promise<number[]> {
  const script = `${setup}
i=0; while [ $i -lt ${runs} ]; do
  ${pauseS ? `sleep ${pauseS}` : ':'}
  s=$(date +%s%N); ${command} >/dev/null 2>&1; e=$(date +%s%N)
  echo $((e - s)); i=$((i+1))
done`;
  const { stdout } = await run(prefix[0], [...prefix.slice(1), '/bin/sh', '-c', script]);
  return stdout
    .trim()
    .split('\n')
    .map((ns) => Number(ns) / 1e6);
}

/**
 * Runs a command to its end without blocking the event loop.
 * @throws when it exits with a non-zero status.
 */
export function run(
  cmd: string,
  args: string[],
  input?: Buffer,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${cmd} exited ${code}: ${stderr}`)),
    );
    child.stdin.end(input);
  });
}

/** Enters a simulated node's PID, mount and time namespaces. */
export function inNode(node: LaunchedNode): string[] {
  return inNamespaces(node.initPid);
}

/** A private mount namespace whose /proc is the view at `mountPoint`. */
export function overView(mountPoint: string): [string[], string] {
  return [
    ['unshare', '--mount', '--propagation', 'private', '--'],
    `mount --bind ${mountPoint} /proc`,
  ];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** Where an OpenSSH server of the bench listens, and in which namespaces it runs. */
export interface SshdPlace {
  /** Loopback address (any of 127/8 is the loopback here: no address is added). */
  address?: string;
  port?: number;
  /** Enters the namespaces it runs in (a simulated node's: `inNode`); none: this machine's. */
  prefix?: string[];
  /** A key directory shared by several servers (sshKeys), so one client key reaches them all. */
  keys?: string;
}

/** A directory with a host key, a client key and an authorized_keys for it. */
export async function sshKeys(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gproc-bench-ssh-'));
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/host_key`]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/client_key`]);
  copyFileSync(`${dir}/client_key.pub`, `${dir}/authorized_keys`);
  return dir;
}

/**
 * An OpenSSH server (127.0.0.1:7699 unless told), for comparison with gproc run and with
 * pdsh's fan-out.
 * @returns the ssh options that reach it (without the host), and how to stop it.
 */
export async function startSshd(
  place: SshdPlace = {},
): Promise<{ options: string; pid: number; stop(): void }> {
  const { address = '127.0.0.1', port = 7699, prefix = [] } = place;
  const own = place.keys === undefined;
  const dir = place.keys ?? (await sshKeys());
  mkdirSync('/run/sshd', { recursive: true });
  const config = `${dir}/sshd_config_${address}_${port}`;
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${dir}/sshd_${address}_${port}.pid`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const argv = [...prefix, '/usr/sbin/sshd', '-D', '-e', '-f', config];
  const sshd = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  let failed: Error | undefined;
  // No sshd (make bench installs openssh-server; dist/bench.js run alone may not have it):
  // this measure fails with the reason, the others go on.
  sshd.once('error', (err) => (failed = err));
  sshd.once('exit', (code) => (failed ??= new Error(`sshd exited ${code}`)));
  const options = `-i ${dir}/client_key -p ${port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`;
  await pollUntil(
    `sshd on ${address}:${port}`,
    () => {
      if (failed) throw new Error(`sshd did not start: ${failed.message}`);
      return run('ssh', [...options.split(' '), `root@${address}`, 'true']);
    },
    10000,
  );
  return {
    options,
    pid: sshd.pid!,
    stop: () => {
      sshd.kill();
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The C floor daemon (src/bench/fuse-floor.c), built next to this bundle by `make bench`. */
export const FLOOR = join(__dirname, 'fuse-floor');

/** A running floor daemon: `procRoot`'s ps files, copied at start, served at `mountPoint`. */
export interface FloorMount {
  mountPoint: string;
  /** Process directories it serves. */
  processes: number;
  stop(): Promise<void>;
}

/**
 * Starts fuse-floor over a copy of `procRoot` (a node's /proc, seen from here), mounted at
 * `mountPoint` with the cluster view's own libfuse options. Its top-level links to this
 * machine's processes (self) point into a procfs it mounts at a directory of its own, as
 * the view's point into the mount's host procfs. `kind`: 'c', fuse-floor.c; with
 * `handoffHotMs`, the same handing each request to one main thread kept polling that long
 * after each, as fuse-native and the view do; 'fuse-native', the same copy served through
 * gproc's mount code by trivial JavaScript (floor-js.ts).
 * @throws when dist/fuse-floor is missing (`make bench` builds it) or it does not mount.
 */
export async function startFloor(
  procRoot: string,
  mountPoint: string,
  kind: 'c' | { handoffHotMs: number } | 'fuse-native' = 'c',
): Promise<FloorMount> {
  if (kind !== 'fuse-native' && !existsSync(FLOOR))
    throw new Error(`${FLOOR} is missing: make bench builds it`);
  const hostProc = mkdtempSync(join(tmpdir(), 'gproc-bench-hostproc-'));
  await run('mount', ['-t', 'proc', 'proc', hostProc]);
  const args = [procRoot, hostProc, mountPoint, fuseOptionString(VIEW_MOUNT_OPTIONS)];
  const [cmd, argv] =
    kind === 'fuse-native'
      ? [process.execPath, [join(__dirname, 'bench.js'), 'serve-floor-js', ...args.slice(0, 3)]]
      : [FLOOR, kind === 'c' ? args : [...args, String(kind.handoffHotMs)]];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    // Left mounted if it died; never removed recursively: it is a procfs until unmounted.
    await run('umount', ['--lazy', mountPoint]).catch(() => undefined);
    await run('umount', ['--lazy', hostProc]).catch(() => undefined);
    rmdirSync(hostProc);
  };
  try {
    await pollUntil(
      'fuse-floor to mount',
      () => {
        if (child.exitCode !== null)
          throw new Error(`fuse-floor exited ${child.exitCode}: ${stderr}`);
        return readdirSync(mountPoint).includes('uptime');
      },
      15000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const processes = readdirSync(mountPoint).filter((n) => /^\d+$/.test(n)).length;
  return { mountPoint, processes, stop };
}
