/**
 * Which nodes the cluster has (spec section 2): the cluster file's fixed `nodes` list, or,
 * with `"membership": {"etcd": [...], "prefix": "/gproc/"}`, the nodes whose agents
 * registered themselves in etcd.
 *
 * Registration: an agent puts `<prefix>nodes/<id>` = `{"id","name","address","socket"}`
 * (JSON) under a lease of `defaults.membershipLeaseTtlS` seconds and keeps it alive; an
 * agent that stops (or cannot reach etcd) stops renewing, and its key is gone when the
 * lease ends. A lease it loses while it runs (etcd was away too long) is granted again.
 *
 * Watching: a mount reads the registrations once, then watches the prefix from that
 * revision on; every put or delete changes its node set at once. While etcd cannot be
 * reached the watch is simply silent, so the mount keeps the last membership it saw.
 * A registration that is not a valid node, or whose key and id disagree, is left out with a
 * warning. What a registration claims is not trusted for identity: the mount dials the
 * registered address and the agent's certificate must name the registered id (transport.ts);
 * the certificate wins.
 *
 * TLS to etcd: with https endpoints the cluster CA checks etcd's certificate, and the
 * node's own key and certificate are offered as a client certificate when this process can
 * read them (agents and mounts run as root; a user's CLI cannot, and connects with the CA
 * alone, which an etcd that demands client certificates refuses).
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions, type Lease, type Watcher } from 'etcd3';
import {
  checkNode,
  ConfigError,
  readPem,
  tlsFor,
  type ClusterConfig,
  type MembershipConfig,
  type NodeConfig,
  type TlsConfig,
} from '../config';
import { defaults } from '../defaults';
import type { Logger } from '../log';
import type { Membership, MembershipEvents } from './membership';

/** The key under which node `id` is registered. */
export function registrationKey(m: MembershipConfig, id: number): string {
  return `${m.prefix}nodes/${id}`;
}

/**
 * A client of the cluster's etcd.
 * @param own the key and certificate to offer etcd as a client certificate (https only),
 *   where this process may read them (`tlsFor` of its node, or `ownTls` of a mount);
 *   unreadable files are left out.
 */
export function etcdClient(config: ClusterConfig, own?: TlsConfig): Etcd3 {
  const m = config.membership;
  if (!m) throw new ConfigError(`${config.source} has no "membership" section`);
  const options: IOptions = {
    hosts: m.etcd,
    dialTimeout: defaults.etcdCallDeadlineMs,
    defaultCallOptions: (ctx) =>
      ctx.isStream ? {} : { deadline: Date.now() + defaults.etcdCallDeadlineMs },
    faultHandling: { watchBackoff: constantBackoff(defaults.etcdRetryMaxMs) },
  };
  if (config.tls && m.etcd[0].startsWith('https://')) {
    const tryRead = (path: string | undefined) => {
      try {
        return path ? readFileSync(path) : undefined;
      } catch {
        return undefined; // a user's CLI: the CA alone
      }
    };
    const key = tryRead(own?.key);
    const cert = tryRead(own?.cert);
    options.credentials = {
      rootCertificate: readPem(config.tls.ca, 'CA'),
      ...(key && cert ? { privateKey: key, certChain: cert } : {}),
    };
  }
  return new Etcd3(options);
}

/** A cockatiel backoff (what etcd3's watch manager takes) that always waits `ms`. */
function constantBackoff(ms: number) {
  const b = { duration: ms, next: () => b };
  return b;
}

/**
 * Parses the registrations under the prefix into nodes, by id. Bad ones are reported
 * through `warn` and left out.
 */
function parseRegistrations(
  m: MembershipConfig,
  kvs: Iterable<[string, string]>,
  warn: (key: string, why: string) => void,
): Map<number, NodeConfig> {
  const nodes = new Map<number, NodeConfig>();
  for (const [key, value] of kvs) {
    const node = parseRegistration(m, key, value, warn);
    if (node) nodes.set(node.id, node);
  }
  return nodes;
}

function parseRegistration(
  m: MembershipConfig,
  key: string,
  value: string,
  warn: (key: string, why: string) => void,
): NodeConfig | undefined {
  try {
    const node = checkNode(JSON.parse(value), key);
    if (registrationKey(m, node.id) !== key)
      throw new ConfigError(`registers node ${node.id} under another node's key`);
    return node;
  } catch (err) {
    warn(key, (err as Error).message);
    return undefined;
  }
}

/**
 * The nodes registered now (a short-lived command's one look), by id.
 * @throws ConfigError when etcd does not answer within `defaults.etcdCallDeadlineMs`.
 */
export async function readMembers(config: ClusterConfig, log?: Logger): Promise<NodeConfig[]> {
  const m = config.membership!;
  const client = etcdClient(config);
  try {
    const kvs = await client.getAll().prefix(`${m.prefix}nodes/`).strings();
    const nodes = parseRegistrations(m, Object.entries(kvs), (key, why) =>
      log?.warn({ key, why }, 'registration left out'),
    );
    return [...nodes.values()].sort((a, b) => a.id - b.id);
  } catch (err) {
    throw new ConfigError(
      `cannot read the nodes from etcd (${m.etcd.join(', ')}): ${(err as Error).message}`,
    );
  } finally {
    client.close();
  }
}

/**
 * The registrations in etcd, watched: see the module comment. Until the first read
 * succeeds it has no nodes, and it retries every `defaults.etcdRetryMaxMs`.
 */
export class EtcdMembership extends EventEmitter<MembershipEvents> implements Membership {
  private current = new Map<number, NodeConfig>();
  private readonly client: Etcd3;
  private watcher: Watcher | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  /** Resolves at the first successful read of the registrations. */
  readonly loaded: Promise<void>;

  constructor(
    private readonly config: ClusterConfig,
    private readonly log: Logger,
    own?: TlsConfig,
  ) {
    super();
    this.client = etcdClient(config, own);
    this.loaded = new Promise((resolve) => this.load(resolve));
  }

  nodes(): NodeConfig[] {
    return [...this.current.values()].sort((a, b) => a.id - b.id);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    void this.watcher?.cancel().catch(() => {});
    this.client.close();
  }

  private get m(): MembershipConfig {
    return this.config.membership!;
  }

  private warn = (key: string, why: string) =>
    this.log.warn({ key, why }, 'etcd registration left out');

  private load(done: () => void): void {
    if (this.closed) return;
    const prefix = `${this.m.prefix}nodes/`;
    this.client
      .getAll()
      .prefix(prefix)
      .exec()
      .then(async (res) => {
        const kvs = res.kvs.map((kv): [string, string] => [kv.key.toString(), kv.value.toString()]);
        this.replace(parseRegistrations(this.m, kvs, this.warn));
        const revision = BigInt(res.header.revision) + 1n;
        const watcher = await this.client
          .watch()
          .prefix(prefix)
          .startRevision(revision.toString())
          .create();
        if (this.closed) return void watcher.cancel().catch(() => {});
        this.watcher = watcher;
        watcher.on('put', (kv) => {
          const key = kv.key.toString();
          const node = parseRegistration(this.m, key, kv.value.toString(), this.warn);
          const next = new Map(this.current);
          next.delete(Number(key.slice(prefix.length)));
          if (node) next.set(node.id, node);
          this.replace(next);
        });
        watcher.on('delete', (kv) => {
          const next = new Map(this.current);
          next.delete(Number(kv.key.toString().slice(prefix.length)));
          this.replace(next);
        });
        watcher.on('disconnected', (err) =>
          this.log.warn({ err: err.message }, 'etcd unreachable: keeping the last membership seen'),
        );
        watcher.on('connected', () => this.log.info('etcd watch connected'));
        watcher.on('error', (err) => this.log.warn({ err: err.message }, 'etcd watch error'));
        done();
      })
      .catch((err: Error) => {
        this.log.warn(
          { err: err.message, etcd: this.m.etcd },
          'cannot read the registrations from etcd; trying again',
        );
        this.retry = setTimeout(() => this.load(done), defaults.etcdRetryMaxMs);
        this.retry.unref();
      });
  }

  private replace(next: Map<number, NodeConfig>): void {
    const same =
      next.size === this.current.size &&
      [...next].every(([id, n]) => JSON.stringify(this.current.get(id)) === JSON.stringify(n));
    this.current = next;
    if (same) return;
    this.log.info({ nodes: [...next.keys()] }, 'membership changed');
    this.emit('change', this.nodes());
  }
}

/**
 * Registers an agent's node in etcd under a lease (once `ready` settled) and keeps it alive; a lease lost while
 * the agent runs (etcd unreachable longer than the TTL) is granted again, every
 * `defaults.etcdRetryMaxMs` until etcd answers.
 * @returns `close`, which revokes the lease (the node leaves every view at once).
 */
export function registerNode(
  config: ClusterConfig,
  node: NodeConfig,
  log: Logger,
  /** Registers once this settles (the agent's first snapshot: it answers when seen). */
  ready: Promise<unknown> = Promise.resolve(),
): { registered: Promise<void>; close(): Promise<void> } {
  const m = config.membership!;
  const client = etcdClient(config, config.tls && tlsFor(config.tls, node));
  const key = registrationKey(m, node.id);
  const value = JSON.stringify({
    id: node.id,
    name: node.name,
    address: node.address,
    socket: node.socket,
  });
  let lease: Lease | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let first: (() => void) | undefined;
  const registered = new Promise<void>((resolve) => (first = resolve));
  const attempt = () => {
    if (closed) return;
    const l = client.lease(defaults.membershipLeaseTtlS);
    lease = l;
    l.on('lost', (err) => {
      if (closed || lease !== l) return;
      log.warn({ err: err.message }, 'etcd lease lost: registering again');
      again();
    });
    l.put(key)
      .value(value)
      .exec()
      .then(
        () => {
          log.info({ key, ttlS: defaults.membershipLeaseTtlS }, 'registered in etcd');
          first?.();
          first = undefined;
        },
        (err: Error) => {
          if (closed || lease !== l) return;
          log.warn({ err: err.message, etcd: m.etcd }, 'cannot register in etcd; trying again');
          again();
        },
      );
  };
  const again = () => {
    const old = lease;
    lease = undefined;
    old?.release();
    clearTimeout(retry);
    retry = setTimeout(attempt, defaults.etcdRetryMaxMs);
    retry.unref();
  };
  void ready.catch(() => {}).then(attempt);
  return {
    registered,
    close: async () => {
      closed = true;
      clearTimeout(retry);
      await lease?.revoke({ deadline: Date.now() + defaults.etcdCallDeadlineMs }).catch(() => {});
      client.close();
    },
  };
}
