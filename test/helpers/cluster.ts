/**
 * Test clusters made of real parts: every node is a real `gproc agent` (the built CLI)
 * started as `gproc up --simulate` starts it, in its own PID, mount and time namespaces,
 * so local PIDs collide across nodes and boot times differ, as on real machines.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Test } from 'tap';
import { NodeClient } from '../../src/cluster/client';
import type { AdmissionRule, ClusterConfig, TlsConfig } from '../../src/config';
import { startNetwork, type TestNetwork } from './netns';

/** The port every agent listens on when each node is a host of its own. */
const AGENT_PORT = 7101;
import { agentCommand, hostPidsIn, inNamespaces, launchCluster } from '../../src/up/nodes';
import { pollUntil } from '../../src/poll';
import { makeCertificates } from '../../src/cli/certs';

export const REPO = resolve(__dirname, '..', '..');
export const CLI = join(REPO, 'dist', 'gproc.js');
/**
 * The gproc command as tests run it. tap injects its loader into NODE_OPTIONS of every
 * child it spawns; the CLI must run as users run it, so `env -u NODE_OPTIONS` takes it out.
 */
export const GPROC = ['env', '-u', 'NODE_OPTIONS', 'node', CLI];
/** The same, for shell command lines. */
export const GPROC_SH = GPROC.join(' ');

/** The ordinary user tests run tools as (nobody). */
export const NOBODY = 65534;

/** The argv prefix that runs a command as `uid` (its own group, no supplementary groups). */
export const asUser = (uid: number = NOBODY): string[] => [
  'setpriv',
  `--reuid=${uid}`,
  `--regid=${uid}`,
  '--clear-groups',
];
const FIXTURES_PY = join(__dirname, 'fixtures.py');

/** PIDs (in the node's namespace) of the hostile processes fixtures.py starts. */
export interface FixturePids {
  hostile: number;
  zombie: number;
  zombie_parent: number;
  bigcmd: number;
  threads: number;
}

export interface TestNode {
  id: number;
  name: string;
  address: string;
  /** The agent's Unix socket. */
  socket: string;
  /** Host PID of the namespace's init; killing it ends the whole node. */
  initPid: number;
  /** The node's own /proc as the host sees it (through its init's root). */
  procRoot: string;
  /** Seconds added to this node's boot clock (its btime is that much earlier). */
  bootOffset: number;
  fixtures?: FixturePids;
  client: NodeClient;
  /** Host PID of the running agent, if any. */
  agentPid(): number | undefined;
  /** Starts an agent inside the node's namespaces again (after it was killed). */
  startAgent(): void;
}

export interface TestCluster {
  dir: string;
  configPath: string;
  config: ClusterConfig;
  /** The test network, when each node is a host of its own. */
  net?: TestNetwork;
  /** argv prefix that puts a command on node `id`'s host network (empty without hosts). */
  hostPrefix(id: number): string[];
  nodes: TestNode[];
  node(id: number): TestNode;
  stop(): void;
}

/** Fails loudly when the environment cannot run real-part tests (nothing is skipped silently). */
export function requireRealParts(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "make build" before the tests`);
  if (process.getuid?.() !== 0)
    throw new Error('these tests need root (PID namespaces, FUSE mounts)');
}

/** n TCP ports that were free a moment ago on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  return ports;
}

/** Polls `fn` every 50 ms until it gives a value (not undefined or false); see pollUntil. */
export function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15000,
): Promise<T> {
  return pollUntil(what, fn, timeoutMs, 50);
}

/**
 * Starts `count` nodes, each with an agent in its own PID and time namespace.
 * @param fixtures also start the hostile processes of fixtures.py on every node.
 */
export async function startCluster(
  t: Test,
  opts: {
    nodes: number;
    fixtures?: boolean;
    tls?: TlsConfig;
    insecure?: boolean;
    /** Each node a host of its own: a network namespace with 198.51.100.<id> (helpers/netns.ts). */
    hosts?: boolean;
    admission?: AdmissionRule[];
    /**
     * Give every node Prometheus endpoints for its agent and its mount (spec section 8):
     * ports 9101 and 9102 of its host address with `hosts`, else free loopback ports.
     */
    metrics?: boolean;
  },
): Promise<TestCluster> {
  requireRealParts();
  const dir = mkdtempSync(join(tmpdir(), 'gproc-test-'));
  chmodSync(dir, 0o755); // the cluster file is read by tests that run as nobody
  const net = opts.hosts ? startNetwork(t, { hosts: opts.nodes }) : undefined;
  const ports = net ? net.hosts.map(() => AGENT_PORT) : await freePorts(opts.nodes);
  const host = (i: number) => (net ? net.hosts[i].address : '127.0.0.1');
  const metricsPorts = opts.metrics && !net ? await freePorts(2 * opts.nodes) : [];
  const metricsOf = (i: number) =>
    net
      ? { agent: `${host(i)}:9101`, mount: `${host(i)}:9102` }
      : {
          agent: `127.0.0.1:${metricsPorts[2 * i]}`,
          mount: `127.0.0.1:${metricsPorts[2 * i + 1]}`,
        };
  const nodesJson = ports.map((port, i) => ({
    id: i + 1,
    name: `n${i + 1}`,
    address: `${host(i)}:${port}`,
    socket: join(dir, `n${i + 1}.sock`),
    ...(opts.metrics ? { metrics: metricsOf(i) } : {}),
  }));
  const configPath = join(dir, 'cluster.json');
  // Each node's own state directory: simulated nodes share the machine's disk (and boot id).
  const launchOpts = (n: { id: number }) => ({
    logFile: join(dir, `agent-${n.id}.log`),
    auditLog: join(dir, `audit-${n.id}.log`),
    stateDir: join(dir, `state-${n.id}`),
    gproc: GPROC,
  });
  const bootOffset = (id: number) => id * 1000;
  // Nodes speak mutual TLS with a certificate each, as on real machines, unless asked not to.
  const tls = opts.insecure
    ? undefined
    : (opts.tls ?? makeCertificates(join(dir, 'pki'), nodesJson));
  const launched = await launchCluster(
    configPath,
    nodesJson,
    (n) => ({
      ...launchOpts(n),
      simulate: true,
      prefix: net?.inHost(n.id),
      bootOffset: bootOffset(n.id),
      preamble: opts.fixtures
        ? `python3 ${FIXTURES_PY} ${join(dir, `fixtures-${n.id}.json`)} &`
        : '',
    }),
    { tls, admission: opts.admission },
  );
  const { config } = launched;
  const nodes: TestNode[] = [];
  const cluster: TestCluster = {
    dir,
    configPath,
    config,
    net,
    hostPrefix: (id) => (net ? net.inHost(id) : []),
    nodes,
    node: (id) => nodes.find((n) => n.id === id)!,
    stop: () => {
      for (const n of nodes) n.client.close();
      launched.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.teardown(() => cluster.stop());

  for (const [i, n] of nodesJson.entries()) {
    const { initPid } = launched.nodes[i];
    nodes.push({
      ...n,
      initPid,
      procRoot: `/proc/${initPid}/root/proc`,
      bootOffset: bootOffset(n.id),
      // The tests run as root on the machine of every node: each agent's own socket.
      client: new NodeClient(n, { config: { ...config, tls: undefined }, self: 0, role: 'daemon' }),
      agentPid: () =>
        hostPidsIn(initPid).find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('\0agent\0');
          } catch {
            return false;
          }
        }),
      startAgent: () => {
        const [nsenter, ...args] = inNamespaces(initPid);
        spawn(
          nsenter,
          [...args, '/bin/sh', '-c', agentCommand({ ...launchOpts(n), id: n.id, configPath })],
          {
            stdio: 'ignore',
            detached: true,
          },
        ).unref();
      },
    });
  }

  await Promise.all(
    nodes.map((n) => waitFor(`agent of node ${n.id}`, () => n.client.nodeInfo().then(() => true))),
  );
  if (opts.fixtures) {
    for (const n of nodes) {
      const file = join(dir, `fixtures-${n.id}.json`);
      n.fixtures = await waitFor(`fixtures of node ${n.id}`, () =>
        existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined,
      );
    }
  }
  return cluster;
}

/**
 * Reads files of a node's /proc as a process inside that node sees them: in its PID, mount
 * and time namespaces (start times and btime are shifted by the reader's time namespace).
 * @returns path -> bytes, or null when the file could not be read (gone, ESRCH, EACCES).
 */
export function readInNode(node: TestNode, paths: string[]): Map<string, Buffer | null> {
  const py = [
    'import base64, json, sys',
    'out = {}',
    'for p in json.loads(sys.argv[1]):',
    '    try:',
    '        with open("/proc/" + p, "rb") as f: out[p] = base64.b64encode(f.read()).decode()',
    '    except OSError:',
    '        out[p] = None',
    'print(json.dumps(out))',
  ].join('\n');
  const [nsenter, ...args] = inNamespaces(node.initPid);
  const r = spawnSync(nsenter, [...args, 'python3', '-c', py, JSON.stringify(paths)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`reading in node ${node.id} failed: ${r.stderr}`);
  const json: Record<string, string | null> = JSON.parse(r.stdout);
  return new Map(
    Object.entries(json).map(([k, v]) => [k, v === null ? null : Buffer.from(v, 'base64')]),
  );
}

/** A scratch directory under the test's own temp dir. */
export function scratch(t: Test, name: string): string {
  const d = join(t.testdir(), name);
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * Bundles helpers/probe.ts (a raw gRPC client of one agent), or another helper of this
 * folder run the same way (`name`, without .ts), into `dir`.
 * @returns the command that runs it: append its JSON argument.
 */
export function buildProbe(dir: string, name = 'probe'): string[] {
  const out = join(dir, `${name}.js`);
  const r = spawnSync(
    join(REPO, 'node_modules/.bin/esbuild'),
    [
      join(__dirname, `${name}.ts`),
      '--bundle',
      '--platform=node',
      '--target=node20',
      '--log-level=warning',
      `--outfile=${out}`,
    ],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`bundling ${name} failed: ${r.stderr}`);
  chmodSync(out, 0o644);
  return ['env', '-u', 'NODE_OPTIONS', 'node', out];
}
