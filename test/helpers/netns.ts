/**
 * A private network for tests: every test host gets a network namespace of its own with
 * 198.51.100.<id>/24 (TEST-NET-2) on a veth whose other end is a port of a bridge that
 * lives in one more namespace of its own. Nothing is ever added to the machine's root
 * network namespace: every `ip` command here names its namespace (`ip -n`), and the veth
 * pairs are made inside the bridge namespace with their host end created directly in the
 * host's namespace. Traffic can only go between these namespaces.
 *
 * Names are `gproct-<pid>-<run>-br` and `gproct-<pid>-<run>-h<id>` (pid of the test
 * process, run counter within it), so parallel runs never collide; leftovers of dead runs
 * (a pid that no longer exists) are swept when a network starts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Test } from 'tap';
import { childrenOf } from '../../src/up/nodes';
import { pollUntil } from '../../src/poll';

export interface TestHost {
  id: number;
  netns: string;
  /** 198.51.100.<id> */
  address: string;
  /** veth end inside the host */
  ifname: string;
}

/** A process tree in a host's network namespace and a PID (and mount) namespace of its own: a node. */
export interface HostProcess {
  /** Host PID of the PID namespace's init (killing it ends every process of the namespace). */
  initPid: number;
  /** argv prefix that runs a command in that PID, mount and network namespace. */
  enter: string[];
  /** Kills the init (and with it the namespace's processes). */
  stop(): void;
}

/** Where a link fault is made: the bridge port (a pulled cable: the host sees no carrier), the host's own interface, or both. */
export type LinkSide = 'bridge' | 'host' | 'both';

export interface TestNetwork {
  hosts: TestHost[];
  /** The bridge's namespace. */
  bridgeNetns: string;
  host(id: number): TestHost;
  /**
   * argv prefix that runs a command in that host's network namespace ONLY (the mount
   * namespace stays ours, so FUSE mounts made there are seen everywhere; this is why it is
   * not `ip netns exec`, which makes a private mount namespace).
   */
  inHost(id: number): string[];
  /** Takes the host's link down (default: its bridge port, as a pulled cable). */
  linkDown(id: number, side?: LinkSide): void;
  /** Brings the host's link up again (same sides as linkDown). */
  linkUp(id: number, side?: LinkSide): void;
  /** Drops every IP packet in or out of the host's veth (an nftables table in the host's namespace; its loopback still works). */
  dropTraffic(id: number): void;
  /** Removes what dropTraffic added. */
  allowTraffic(id: number): void;
  /**
   * Starts `argv` as the init of a fresh PID namespace (with its own /proc, so a mount
   * namespace too) inside host `id`'s network namespace, as nodes are launched.
   */
  startInHost(id: number, argv: string[]): Promise<HostProcess>;
  /** The network's state, for a failure message: links, addresses and neighbours of every host, the bridge's ports and forwarding table. */
  describe(): string;
  /** Kills every process left in the namespaces and removes them (with their links). Idempotent. */
  stop(): void;
}

const SUBNET = '198.51.100';
const PREFIX = 'gproct';
const NAME_RE = new RegExp(`^${PREFIX}-(\\d+)-\\d+-(?:br|h\\d+)$`);
/** Table dropTraffic adds in a host's namespace. */
const FAULT_TABLE = 'gproc_fault';
const BRIDGE = 'br0';
const HOST_IF = 'eth0';
let runs = 0;

/** Runs a command synchronously. @throws Error naming the command, its exit status and stderr. */
function run(argv: string[], input?: string): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', input, timeout: 30000 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit ${r.status}`;
    throw new Error(`\`${argv.join(' ')}\` failed (${why}): ${(r.stderr ?? '').trim()}`);
  }
  return r.stdout;
}

/** `ip` inside network namespace `ns`: never the root namespace. */
function ipIn(ns: string, ...args: string[]): string {
  return run(['ip', '-n', ns, ...args]);
}

function netnsNames(): string[] {
  const out = run(['ip', '-j', 'netns', 'list']).trim();
  return out ? (JSON.parse(out) as { name: string }[]).map((n) => n.name) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Kills the processes in network namespace `ns` and removes its name (the namespace, and its links, go with its last process). */
function removeNetns(ns: string): void {
  const pids = run(['ip', 'netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    if (pid === process.pid) continue; // never ourselves (we never enter these namespaces)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  run(['ip', 'netns', 'delete', ns]);
}

/**
 * Removes the namespaces of this helper whose run (the pid in their name) no longer exists.
 * Before this process made its first network, names with its own pid are a dead run's too
 * (a reused pid).
 */
export function sweepLeftovers(): string[] {
  const swept: string[] = [];
  for (const name of netnsNames()) {
    const m = NAME_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid ? runs > 0 : alive(pid)) continue;
    try {
      removeNetns(name);
    } catch (err) {
      if (netnsNames().includes(name)) throw err;
      continue; // a run starting at the same time swept it first
    }
    swept.push(name);
  }
  return swept;
}

/** The argv prefix that enters the PID, mount and network namespaces of host process `initPid`. */
export function inNodeNamespaces(initPid: number): string[] {
  return ['nsenter', '-t', String(initPid), '-p', '-m', '-n', '--'];
}

/** Starts a network of `opts.hosts` hosts, ids 1..n; removed when `t` ends (also when it fails). */
export function startNetwork(t: Test, opts: { hosts: number }): TestNetwork {
  if (process.getuid?.() !== 0) throw new Error('test networks need root (network namespaces)');
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 254)
    throw new Error(`hosts must be 1..254, not ${opts.hosts}`);
  sweepLeftovers();

  const base = `${PREFIX}-${process.pid}-${++runs}`;
  const bridgeNetns = `${base}-br`;
  const made: string[] = []; // namespaces to remove, in order of creation
  const started: HostProcess[] = [];
  const hosts: TestHost[] = [];
  let stopped = false;

  const host = (id: number): TestHost => {
    const h = hosts.find((x) => x.id === id);
    if (!h) throw new Error(`no test host ${id} (hosts are 1..${hosts.length})`);
    return h;
  };
  const port = (id: number) => `h${id}`;
  const inHost = (id: number) => ['nsenter', `--net=/run/netns/${host(id).netns}`, '--'];
  const setLink = (id: number, side: LinkSide, state: 'up' | 'down') => {
    const h = host(id);
    if (side !== 'host') ipIn(bridgeNetns, 'link', 'set', port(id), state);
    if (side !== 'bridge') ipIn(h.netns, 'link', 'set', h.ifname, state);
  };
  const nft = (id: number, args: string[], input?: string) => {
    try {
      return run([...inHost(id), 'nft', ...args], input);
    } catch (err) {
      if (!spawnSync('sh', ['-c', 'command -v nft']).stdout?.length) {
        throw new Error("nft is missing: install Debian's nftables (make debian-deps)");
      }
      throw err;
    }
  };
  const hasFaultTable = (id: number) =>
    nft(id, ['list', 'tables'])
      .split('\n')
      .some((l) => l.trim() === `table inet ${FAULT_TABLE}`);

  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const p of started) p.stop();
    const errors: string[] = [];
    // hosts first, the bridge last
    for (const ns of [...made].reverse()) {
      try {
        removeNetns(ns);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    made.length = 0;
    if (errors.length) throw new Error(`removing the test network: ${errors.join('; ')}`);
  };
  t.teardown(stop);

  const addNetns = (ns: string) => {
    run(['ip', 'netns', 'add', ns]);
    made.push(ns);
    ipIn(ns, 'link', 'set', 'lo', 'up');
  };
  try {
    addNetns(bridgeNetns);
    ipIn(bridgeNetns, 'link', 'add', BRIDGE, 'type', 'bridge');
    ipIn(bridgeNetns, 'link', 'set', BRIDGE, 'up');
    for (let id = 1; id <= opts.hosts; id++) {
      const h: TestHost = {
        id,
        netns: `${base}-h${id}`,
        address: `${SUBNET}.${id}`,
        ifname: HOST_IF,
      };
      addNetns(h.netns);
      // Both ends are born in test namespaces: the pair is never in the root namespace.
      ipIn(
        bridgeNetns,
        'link',
        'add',
        port(id),
        'type',
        'veth',
        'peer',
        'name',
        h.ifname,
        'netns',
        h.netns,
      );
      ipIn(bridgeNetns, 'link', 'set', port(id), 'master', BRIDGE);
      ipIn(bridgeNetns, 'link', 'set', port(id), 'up');
      ipIn(h.netns, 'addr', 'add', `${h.address}/24`, 'dev', h.ifname);
      ipIn(h.netns, 'link', 'set', h.ifname, 'up');
      hosts.push(h);
    }
  } catch (err) {
    stop();
    throw err;
  }

  return {
    hosts,
    bridgeNetns,
    host,
    inHost,
    linkDown: (id, side = 'bridge') => setLink(id, side, 'down'),
    linkUp: (id, side = 'bridge') => setLink(id, side, 'up'),
    dropTraffic: (id) => {
      const { ifname } = host(id);
      if (hasFaultTable(id)) return;
      nft(
        id,
        ['-f', '-'],
        [
          `table inet ${FAULT_TABLE} {`,
          `  chain input { type filter hook input priority -200; policy accept; iifname "${ifname}" drop; }`,
          `  chain output { type filter hook output priority -200; policy accept; oifname "${ifname}" drop; }`,
          '}',
          '',
        ].join('\n'),
      );
    },
    allowTraffic: (id) => {
      if (hasFaultTable(id)) nft(id, ['delete', 'table', 'inet', FAULT_TABLE]);
    },
    startInHost: async (id, argv) => {
      const launcher: ChildProcess = spawn(
        inHost(id)[0],
        [...inHost(id).slice(1), 'unshare', '--pid', '--fork', '--mount-proc', '--', ...argv],
        {
          stdio: 'ignore',
          detached: true,
        },
      );
      launcher.unref();
      const kill = (pid: number | undefined) => {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      let initPid: number;
      try {
        // nsenter execs unshare (same pid), whose one child is the namespace's init
        initPid = await pollUntil(
          `the PID namespace in test host ${id}`,
          () => {
            if (launcher.exitCode !== null || launcher.signalCode !== null)
              throw new Error(
                `nsenter/unshare ended (${launcher.exitCode ?? launcher.signalCode})`,
              );
            const child = childrenOf(launcher.pid!)[0];
            // ready once the child has exec'd `argv` (unshare forks; the child mounts its /proc, then execs)
            return (
              child !== undefined &&
              readFileSync(`/proc/${child}/cmdline`, 'latin1') !==
                readFileSync(`/proc/${launcher.pid}/cmdline`, 'latin1') &&
              child
            );
          },
          10000,
          20,
        );
      } catch (err) {
        kill(launcher.pid);
        throw err;
      }
      const p: HostProcess = {
        initPid,
        enter: inNodeNamespaces(initPid),
        stop: () => {
          kill(initPid);
          kill(launcher.pid);
        },
      };
      started.push(p);
      return p;
    },
    describe: () => {
      const show = (ns: string, argv: string[]) => {
        const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
        return `${ns}$ ${argv.slice(argv.indexOf('--') + 1).join(' ')}\n${r.stdout}${r.stderr}`;
      };
      const inBridge = ['nsenter', `--net=/run/netns/${bridgeNetns}`, '--'];
      return [
        show(bridgeNetns, [...inBridge, 'bridge', 'link']),
        show(bridgeNetns, [...inBridge, 'bridge', 'fdb', 'show', 'br', BRIDGE]),
        ...hosts.flatMap((h) => [
          show(h.netns, [...inHost(h.id), 'ip', '-br', 'addr']),
          show(h.netns, [...inHost(h.id), 'ip', 'neigh']),
          show(h.netns, [...inHost(h.id), 'nft', 'list', 'ruleset']),
        ]),
      ].join('');
    },
    stop,
  };
}
