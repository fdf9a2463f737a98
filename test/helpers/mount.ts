/**
 * Mounts and tools for tests: `gproc mount` run as a user would run it, tools run through
 * `gproc exec` over a mount, and the same tools run inside a node (nsenter into its PID,
 * mount and time namespaces) to compare with.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { GPROC, waitFor, type TestCluster, type TestNode } from './cluster';
import { defaults } from '../../src/defaults';
import { inNamespaces } from '../../src/up/nodes';

export interface TestMount {
  mountPoint: string;
  process: ChildProcess;
  logFile: string;
  /** Ctrl-C: unmounts cleanly. */
  stop(): Promise<void>;
}

/** Starts `gproc mount` for `cluster` and waits until the view answers. */
export async function startMount(
  t: Test,
  cluster: TestCluster,
  opts: {
    node?: number;
    mountPoint?: string;
    /** more options of gproc mount */ args?: string[];
    /** the daemon's environment (default: the test's) */ env?: NodeJS.ProcessEnv;
  } = {},
): Promise<TestMount> {
  const mountPoint = opts.mountPoint ?? mkdtempSync(join(tmpdir(), 'gproc-mnt-'));
  const logFile = join(cluster.dir, `mount-${opts.node ?? 1}-${Date.now()}.log`);
  const log = openSync(logFile, 'a');
  const node = opts.node ?? 1;
  const args = [
    ...cluster.hostPrefix(node),
    ...GPROC,
    'mount',
    '--config',
    cluster.configPath,
    '--node',
    String(node),
    ...(opts.args ?? []),
    mountPoint,
  ];
  const child = spawn(args[0], args.slice(1), { stdio: ['ignore', log, log], env: opts.env });
  closeSync(log);
  // readdir always reaches the daemon (a stale mount's cached entries could still stat).
  await waitFor(
    `mount at ${mountPoint}`,
    () => readdirSync(mountPoint).includes('nodes') || undefined,
  );
  const mount: TestMount = {
    mountPoint,
    process: child,
    logFile,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      // The daemon bounds its own close (defaults.mountCloseMs); past that and a margin it
      // hangs, which is a failure to report with its log, not a test to wait on for ever.
      const exited = await Promise.race([
        new Promise((r) => child.once('exit', () => r(true))),
        sleep(defaults.mountCloseMs + 10000, false, { ref: false }),
      ]);
      // Left by its watchdog (src/watchdog.ts): within its bound, but its close was stuck in
      // the kernel. Rare and not understood yet, so its line (where the threads waited) is
      // kept in the test's output.
      const stuck = readFileSync(logFile, 'utf8')
        .split('\n')
        .find((line) => line.includes('leaving by SIGKILL'));
      if (stuck)
        process.stderr.write(`mount daemon ${child.pid} was killed by its watchdog: ${stuck}\n`);
      if (!exited) {
        // Where each thread of the daemon and of what it started waits, before the kill.
        const where = describeProcessTree(child.pid!);
        child.kill('SIGKILL');
        const died = await Promise.race([
          new Promise((r) => child.once('exit', () => r(true))),
          sleep(2000, false, { ref: false }),
        ]);
        const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
        throw new Error(
          `gproc mount did not exit after SIGINT${died ? '' : ' (nor within 2 s of SIGKILL)'}; its log ends:\n${tail}\nits processes:\n${where}`,
        );
      }
    },
  };
  t.teardown(async () => {
    await mount.stop();
    // rmdir, not rm -r: if the mount were still there, nothing under it may be touched.
    if (!opts.mountPoint) rmdirSync(mountPoint, { maxRetries: 3 });
  });
  return mount;
}

/** Runs a command with the mount as /proc (`gproc exec --mount DIR -- argv`). */
export function inView(mount: TestMount, argv: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(
    GPROC[0],
    [...GPROC.slice(1), 'exec', '--mount', mount.mountPoint, '--', ...argv],
    {
      encoding: 'utf8',
      input,
      maxBuffer: 256 * 1024 * 1024,
    },
  );
}

/** Runs a command inside a node, as one of its own processes. */
export function inNode(
  node: TestNode,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): SpawnSyncReturns<string> {
  const [nsenter, ...args] = inNamespaces(node.initPid);
  return spawnSync(nsenter, [...args, ...argv], {
    encoding: 'utf8',
    env,
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** Starts `sleep 1000` in a node (as root, or as `uid`) and gives its pid there. */
export function sleeper(node: TestNode, uid?: number): number {
  const pre = uid === undefined ? '' : `setpriv --reuid=${uid} --regid=${uid} --clear-groups `;
  const pid = Number(
    inNode(node, [
      'sh',
      '-c',
      `${pre}sleep 1000 </dev/null >/dev/null 2>&1 & echo $!`,
    ]).stdout.trim(),
  );
  // Until setpriv has changed its ids and exec'd sleep, the process is root's setpriv.
  const end = Date.now() + 10000;
  const comm = () => {
    try {
      return readFileSync(`${node.procRoot}/${pid}/comm`, 'latin1');
    } catch {
      return '';
    }
  };
  while (comm() !== 'sleep\n') {
    if (Date.now() > end) throw new Error(`pid ${pid} of node ${node.id} never became sleep`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  return pid;
}

/** Whether `pid` runs in the node (a zombie does not). */
export const alive = (node: TestNode, pid: number) =>
  existsSync(`${node.procRoot}/${pid}`) &&
  !readFileSync(`${node.procRoot}/${pid}/stat`, 'latin1').includes(') Z ');

/** pwrite()s each case to a file and reports "ok" or the errno name. */
export function writeCases(
  path: string,
  cases: Record<string, { hex: string; offset?: number }>,
  uid?: number,
): Record<string, string> {
  const py = [
    'import errno, json, os, sys',
    'path, cases = sys.argv[1], json.load(sys.stdin)',
    'out = {}',
    'for name, c in cases.items():',
    '    try:',
    '        fd = os.open(path, os.O_WRONLY)',
    '        try:',
    '            os.pwrite(fd, bytes.fromhex(c["hex"]), c.get("offset", 0))',
    '            out[name] = "ok"',
    '        finally:',
    '            os.close(fd)',
    '    except OSError as e:',
    '        out[name] = errno.errorcode[e.errno]',
    'print(json.dumps(out))',
  ].join('\n');
  const argv = ['/usr/bin/python3', '-c', py, path];
  const input = JSON.stringify(cases);
  const r =
    uid === undefined
      ? spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input })
      : spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv], {
          encoding: 'utf8',
          input,
        });
  if (r.status !== 0) throw new Error(`python: ${r.error ?? r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Hex of a latin1 string, for writeCases. */
export const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');

/** The fixtures the differential tests compare in full: quiet sleepers (and a zombie) started by fixtures.py. */
export const QUIET = ['hostile', 'zombie_parent', 'zombie', 'bigcmd', 'threads'] as const;

export interface AsyncRun {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Runs argv to its end (async, so that the nodes' runs overlap), bounded by `timeoutMs`. */
export function runAsync(argv: string[], timeoutMs = 60000): Promise<AsyncRun> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status });
    });
  });
}

/** argv that runs `argv` inside `node`'s namespaces, as `user` (asUser(), or [] for root). */
export const nodeArgv = (node: TestNode, user: readonly string[], argv: readonly string[]) => [
  ...inNamespaces(node.initPid),
  ...user,
  ...argv,
];
/** argv that runs `argv` under `gproc exec` over the view at `mp`, as `user`. */
export const viewArgv = (mp: string, user: readonly string[], argv: readonly string[]) => [
  ...user,
  ...GPROC,
  'exec',
  '--mount',
  mp,
  '--',
  ...argv,
];

/**
 * `pid` and its descendants, one line per thread: pid/tid, name, state (proc(5) stat field
 * 3), wchan and the top of its kernel stack (/proc/<pid>/task/<tid>/stack, root only): what
 * a daemon that does not leave is waiting for.
 */
export function describeProcessTree(pid: number): string {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return '';
    }
  };
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(`/proc/${entry}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const lines: string[] = [];
  const visit = (p: number, depth: number) => {
    const cmd = read(`/proc/${p}/cmdline`).split('\0').join(' ').trim().slice(0, 120);
    lines.push(`${'  '.repeat(depth)}${p} ${cmd}`);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      // gone meanwhile
    }
    for (const tid of tids) {
      const task = `/proc/${p}/task/${tid}`;
      const stat = read(`${task}/stat`);
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      const stack = read(`${task}/stack`)
        .split('\n')
        .filter(Boolean)
        .slice(0, 8)
        .map((f) => f.replace(/^\[<[0-9a-f]+>\] /, ''))
        .join(' < ');
      lines.push(
        `${'  '.repeat(depth + 1)}${tid} ${name} ${state} wchan=${read(`${task}/wchan`) || '-'}${stack ? ` stack: ${stack}` : ''}`,
      );
    }
    for (const c of children.get(p) ?? []) visit(c, depth + 1);
  };
  visit(pid, 0);
  return lines.join('\n');
}
