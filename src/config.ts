/**
 * The cluster file (spec section 2):
 * `{"nodes":[{"id":1,"name":"n1","address":"127.0.0.1:7101"}, ...], "tls": {...}}`.
 * or, instead of `nodes`, `"membership": {"etcd": ["https://host:2379"], "prefix": "/gproc/"}`
 * (nodes register themselves: cluster/etcd-membership.ts).
 * Unknown keys, duplicate ids, names or addresses and ids outside 1..511 are refused with
 * a message that names the key.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { defaults } from './defaults';
import { MAX_NODE_ID, isNodeId } from './gpid';
import { upFiles } from './up/files';

/** One node of the cluster file. */
export interface NodeConfig {
  /** Node id, 1..511: the top bits of every gpid of this node. */
  id: number;
  /** Human name, unique in the cluster ("n1"). */
  name: string;
  /** host:port the node's agent listens on. */
  address: string;
  /**
   * Path of the agent's local Unix socket, where users of that node's machine reach it
   * (their uid and groups come from the kernel): `defaults.agentSocket` unless given.
   */
  socket: string;
  /**
   * Where this node's daemons serve Prometheus metrics over plain HTTP at `/metrics`
   * (spec section 8): "host:port" for the agent and for the mount; either may be left out
   * (no endpoint). Counts and timings only, never process details.
   */
  metrics?: MetricsAddresses;
}

/** The `metrics` entry of a node: "host:port" of each daemon's `/metrics` endpoint. */
export interface MetricsAddresses {
  agent?: string;
  mount?: string;
}

/**
 * Who may start processes on which nodes (spec section 7): a rule admits the users and
 * groups it lists (names or numeric ids) to the nodes it lists. A node no rule names admits
 * everyone; a node some rules name admits root and whoever one of them lists.
 */
export interface AdmissionRule {
  /** Node ids. */
  nodes: number[];
  users: (string | number)[];
  groups: (string | number)[];
}

/**
 * TLS material (spec section 7): paths of PEM files. `cert` and `key` are a node's own and
 * may hold `{name}` or `{id}`, which stand for the node using them, so that one cluster file
 * serves every machine (`/etc/gproc/{name}.key`: each machine holds only its own key).
 */
export interface TlsConfig {
  ca: string;
  cert: string;
  key: string;
}

/** Where the nodes register when the cluster file names no fixed list (spec section 2). */
export interface MembershipConfig {
  /** etcd endpoints, "https://host:port" (or, all of them, "http://host:port"). */
  etcd: string[];
  /** Key prefix under which each node is registered (`<prefix>nodes/<id>`). */
  prefix: string;
}

/** A validated cluster file. */
export interface ClusterConfig {
  /**
   * The nodes: the file's fixed list, or (with `membership`) the registrations seen in etcd
   * when the command looked (empty as read from the file; see cluster/membership.ts).
   */
  nodes: NodeConfig[];
  /** Set when the nodes register through etcd instead of a fixed list. */
  membership?: MembershipConfig;
  tls?: TlsConfig;
  admission: AdmissionRule[];
  /** The file it was read from, for messages. */
  source: string;
}

/** A cluster file that cannot be used; `message` names the file and the bad key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Picks the cluster file: --config, else $GPROC_CONFIG, else /etc/gproc/cluster.json. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.GPROC_CONFIG || defaults.configPath;
}

/**
 * Reads and validates a cluster file.
 * @throws ConfigError when the file is missing, is not JSON or breaks a rule of spec section 2.
 */
export function loadConfig(path: string): ClusterConfig {
  let text: string;
  try {
    if (!statSync(path).isFile())
      throw new ConfigError(`cluster file ${path} is not a regular file`);
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, ''); // a byte-order mark some editors write
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // Someone who started `gproc up` and then runs gproc run/kill/wait lands here.
    const up = upFiles();
    const hint =
      code === 'ENOENT' && path === defaults.configPath && existsSync(up.pids)
        ? ` (gproc up is running: export GPROC_CONFIG=${up.config})`
        : '';
    throw new ConfigError(`cannot read cluster file ${path}: ${code ?? String(err)}${hint}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`cluster file ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseConfig(json, path);
}

/**
 * Validates the parsed JSON of a cluster file.
 * @param source the file name used in messages.
 * @throws ConfigError naming the offending key ("nodes[2].id: ...").
 */
export function parseConfig(json: unknown, source = 'cluster file'): ClusterConfig {
  const fail = (key: string, why: string): never => {
    throw new ConfigError(`${source}: ${key}: ${why}`);
  };
  if (!isObject(json)) fail('(top level)', 'must be an object');
  const top = json as Record<string, unknown>;
  checkKeys(top, ['nodes', 'membership', 'tls', 'admission'], '', fail);
  const membership = parseMembership(top, fail);
  if (!membership && !Array.isArray(top.nodes))
    fail('nodes', 'must be an array of nodes (or give "membership" instead)');
  const rawNodes = (top.nodes ?? []) as unknown[];
  if (!membership && rawNodes.length === 0) fail('nodes', 'must name at least one node');

  const ids = new Set<number>();
  const names = new Set<string>();
  const addresses = new Set<string>();
  const sockets = new Set<string>();
  const nodes = rawNodes.map((raw, i): NodeConfig => {
    const at = `nodes[${i}]`;
    const node = checkNode(raw, at, fail, ['metrics']);
    const { id, name, address, socket } = node;
    if (ids.has(id)) fail(`${at}.id`, `duplicate node id ${id}`);
    if (names.has(name)) fail(`${at}.name`, `duplicate node name "${name}"`);
    if (addresses.has(address)) fail(`${at}.address`, `duplicate address ${address}`);
    if ((raw as Record<string, unknown>).socket !== undefined && sockets.has(socket))
      fail(`${at}.socket`, `duplicate socket ${socket}`);
    ids.add(id);
    names.add(name);
    addresses.add(address);
    sockets.add(socket);
    const metrics = parseMetrics(
      (raw as Record<string, unknown>).metrics,
      `${at}.metrics`,
      addresses,
      fail,
    );
    return metrics ? { ...node, metrics } : node;
  });

  let tls: TlsConfig | undefined;
  if (top.tls !== undefined) {
    if (!isObject(top.tls)) fail('tls', 'must be an object');
    const t = top.tls as Record<string, unknown>;
    checkKeys(t, ['ca', 'cert', 'key'], 'tls.', fail);
    for (const k of ['ca', 'cert', 'key'] as const) {
      if (typeof t[k] !== 'string' || t[k] === '')
        fail(`tls.${k}`, 'must be the path of a PEM file');
    }
    tls = { ca: t.ca as string, cert: t.cert as string, key: t.key as string };
  }
  if (membership?.etcd.some((e) => e.startsWith('https://')) && !tls)
    fail(
      'membership.etcd',
      'https endpoints need a "tls" section (its CA checks etcd\'s certificate)',
    );
  const admission = parseAdmission(top.admission, nodes, !!membership, fail);
  return { nodes, membership, tls, admission, source };
}

/**
 * The `membership` section: `{"etcd": ["https://198.51.100.9:2379", ...], "prefix": "/gproc/"}`.
 * Endpoints are all https (TLS checked with the cluster CA; the node's own key and
 * certificate are offered to etcd as a client certificate where they can be read) or all
 * plain http (a private network, or tests). It excludes a `nodes` list.
 */
function parseMembership(
  top: Record<string, unknown>,
  fail: (key: string, why: string) => never,
): MembershipConfig | undefined {
  const raw = top.membership;
  if (raw === undefined) return undefined;
  if (!isObject(raw))
    return fail('membership', 'must be an object {"etcd": [...], "prefix": "/gproc/"}');
  if (top.nodes !== undefined)
    fail(
      'nodes',
      'give either "nodes" or "membership", not both (with etcd, agents register their nodes)',
    );
  checkKeys(raw, ['etcd', 'prefix'], 'membership.', fail);
  if (!Array.isArray(raw.etcd) || raw.etcd.length === 0)
    fail('membership.etcd', 'must be a non-empty array of endpoints ("https://host:2379")');
  const etcd = (raw.etcd as unknown[]).map((e, i) => {
    const m =
      typeof e === 'string' ? /^(https?):\/\/(\[[^\]]+\]:\d+|[^:/[\]]+:\d+)\/?$/.exec(e) : null;
    if (!m)
      return fail(`membership.etcd[${i}]`, 'must be "https://host:port" or "http://host:port"');
    checkAddress(m[2], `membership.etcd[${i}]`, fail);
    return `${m[1]}://${m[2]}`;
  });
  if (new Set(etcd.map((e) => e.split(':')[0])).size > 1)
    fail('membership.etcd', 'endpoints must be all https or all http');
  const prefix = raw.prefix ?? defaults.membershipPrefix;
  if (typeof prefix !== 'string' || !/^\/[\x21-\x7e]*\/$/.test(prefix) || prefix.length > 200)
    fail('membership.prefix', 'must be a key prefix that starts and ends with "/" ("/gproc/")');
  return { etcd, prefix: prefix };
}

/**
 * Validates one node: an entry of the cluster file's `nodes`, or a registration read from
 * etcd (`at` names it in messages).
 * @throws ConfigError naming the bad key.
 */
export function checkNode(
  raw: unknown,
  at: string,
  fail: (key: string, why: string) => never = (key, why) => {
    throw new ConfigError(`${key}: ${why}`);
  },
  /** Keys the caller checks itself (a cluster file's node may name its `metrics`). */
  more: string[] = [],
): NodeConfig {
  if (!isObject(raw)) fail(at, 'must be an object');
  const n = raw;
  checkKeys(n, ['id', 'name', 'address', 'socket', ...more], `${at}.`, fail);
  if (typeof n.id !== 'number' || !isNodeId(n.id))
    fail(`${at}.id`, `must be an integer in 1..${MAX_NODE_ID}`);
  if (typeof n.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(n.name)) {
    fail(`${at}.name`, 'must be a name of letters, digits, ".", "_" or "-"');
  }
  if (typeof n.address !== 'string') fail(`${at}.address`, 'must be "host:port"');
  checkAddress(n.address, `${at}.address`, fail);
  if (
    n.socket !== undefined &&
    (typeof n.socket !== 'string' || !n.socket.startsWith('/') || n.socket.length > 107)
  ) {
    fail(`${at}.socket`, 'must be an absolute path of at most 107 bytes (a Unix socket)');
  }
  return {
    id: n.id,
    name: n.name,
    address: n.address,
    socket: n.socket ?? defaults.agentSocket,
  };
}

/** A node's `metrics` entry; its addresses join `taken`, where none may appear twice. */
function parseMetrics(
  raw: unknown,
  at: string,
  taken: Set<string>,
  fail: (key: string, why: string) => never,
): MetricsAddresses | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw))
    return fail(at, 'must be an object {"agent": "host:port", "mount": "host:port"}');
  checkKeys(raw, ['agent', 'mount'], `${at}.`, fail);
  const out: MetricsAddresses = {};
  for (const k of ['agent', 'mount'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') return fail(`${at}.${k}`, 'must be "host:port"');
    checkAddress(v, `${at}.${k}`, fail);
    if (taken.has(v)) fail(`${at}.${k}`, `duplicate address ${v}`);
    taken.add(v);
    out[k] = v;
  }
  return out;
}

function parseAdmission(
  raw: unknown,
  nodes: NodeConfig[],
  byIdOnly: boolean,
  fail: (key: string, why: string) => never,
): AdmissionRule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    return fail(
      'admission',
      'must be an array of rules {"nodes": [...], "users": [...], "groups": [...]}',
    );
  const principal = (v: unknown) =>
    (typeof v === 'string' && /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?$/.test(v)) ||
    (Number.isInteger(v) && (v as number) >= 0);
  return raw.map((r: unknown, i): AdmissionRule => {
    const at = `admission[${i}]`;
    if (!isObject(r)) fail(at, 'must be an object');
    const rule = r;
    checkKeys(rule, ['nodes', 'users', 'groups'], `${at}.`, fail);
    if (!Array.isArray(rule.nodes) || rule.nodes.length === 0)
      fail(`${at}.nodes`, 'must be a non-empty array of node ids or names');
    const ids = (rule.nodes as unknown[]).map((n, j) => {
      // With etcd membership the nodes are not known in advance: rules name them by id.
      if (byIdOnly)
        return typeof n === 'number' && isNodeId(n)
          ? n
          : fail(
              `${at}.nodes[${j}]`,
              `with "membership", name nodes by id (an integer in 1..${MAX_NODE_ID})`,
            );
      const node = nodes.find((c) => c.id === n || c.name === n);
      return node
        ? node.id
        : fail(`${at}.nodes[${j}]`, `no node ${JSON.stringify(n)} in the cluster file`);
    });
    const list = (key: 'users' | 'groups') => {
      const v = rule[key] ?? [];
      if (!Array.isArray(v) || !v.every(principal))
        fail(`${at}.${key}`, 'must be an array of names or numeric ids');
      return v as (string | number)[];
    };
    return { nodes: ids, users: list('users'), groups: list('groups') };
  });
}

/** The tls section with `{name}` and `{id}` in `cert` and `key` standing for `node`. */
export function tlsFor(tls: TlsConfig, node: NodeConfig): TlsConfig {
  const expand = (path: string) =>
    path.replaceAll('{name}', node.name).replaceAll('{id}', String(node.id));
  return { ca: tls.ca, cert: expand(tls.cert), key: expand(tls.key) };
}

/**
 * Reads one PEM file of the tls section (`what`: "CA", "certificate", "key").
 * @throws ConfigError naming the file and why (a key root alone may read says so).
 */
export function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'EACCES' && what === 'key'
        ? ' (only root, through the agent or the mount, uses the node key; the CLI does not need it)'
        : '';
    throw new ConfigError(`cannot read TLS ${what} ${path}: ${code ?? String(err)}${hint}`);
  }
}

/**
 * Finds a node by id ("3") or by name ("n3").
 * @throws ConfigError when no node matches.
 */
export function findNode(config: ClusterConfig, idOrName: string | number): NodeConfig {
  const text = String(idOrName);
  const byId = /^\d+$/.test(text) ? config.nodes.find((n) => n.id === Number(text)) : undefined;
  const node = byId ?? config.nodes.find((n) => n.name === text);
  if (!node) {
    const known = config.nodes.map((n) => `${n.id} (${n.name})`).join(', ');
    throw new ConfigError(`unknown node "${text}"; ${config.source} has ${known}`);
  }
  return node;
}

/** Splits "host:port" (IPv6 as "[::1]:7101"). */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new ConfigError(`"${address}" is not host:port`);
  return { host: m[1], port: Number(m[2]) };
}

/** True when the address is on the loopback interface (where --insecure is allowed). */
export function isLoopback(address: string): boolean {
  const { host } = splitAddress(address);
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function checkAddress(
  address: string,
  key: string,
  fail: (key: string, why: string) => never,
): void {
  let parts: { host: string; port: number };
  try {
    parts = splitAddress(address);
  } catch {
    return fail(key, `"${address}" is not host:port`);
  }
  if (!Number.isInteger(parts.port) || parts.port < 1 || parts.port > 65535) {
    fail(key, `port ${parts.port} is outside 1..65535`);
  }
}

function checkKeys(
  obj: Record<string, unknown>,
  allowed: string[],
  prefix: string,
  fail: (key: string, why: string) => never,
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      fail(`${prefix}${key}`, `unknown key (allowed: ${allowed.join(', ')})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
