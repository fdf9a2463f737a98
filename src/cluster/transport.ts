/**
 * How this process reaches each node's agent, and as whom (spec section 7). One rule, for
 * every client (mount, CLI, tests):
 *
 * - this machine's own node, and every node of a cluster without TLS (whose agents are all
 *   on loopback, so on this machine): the agent's Unix socket, where the kernel tells the
 *   agent who we are. A machine that is no node but holds agents' sockets (simulated
 *   nodes, tests) reaches those agents there too;
 * - another node, as a daemon (a mount, which runs as root and holds this node's key):
 *   mutual TLS with this node's certificate; each call names the user it acts for
 *   (`gproc-act-as`);
 * - another node, as a user (the CLI): TLS that authenticates the agent only, and a
 *   credential that this node's agent sealed for us (`gproc-credential`). No key is read.
 *
 * Either way the agent's certificate must come from the cluster CA, name the address we
 * dialled and name the node we meant (its `urn:gproc:node:<id>`).
 */
import { CallCredentials, ChannelCredentials, Metadata, type ChannelOptions } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { hostname } from 'node:os';
import {
  ConfigError,
  readPem,
  tlsFor,
  type ClusterConfig,
  type NodeConfig,
  type TlsConfig,
} from '../config';
import { defaults } from '../defaults';
import { nodeIdOf } from '../identity/certificate';

/** Who this process is to the agents. */
export interface Access {
  config: ClusterConfig;
  /** This machine's node id, 0 when it is no node of the cluster. */
  self: number;
  /** 'daemon': acts for users with this node's key (root only); 'user': acts for itself. */
  role: 'daemon' | 'user';
  /** Where a user's credential comes from (set up by `userAccess`). */
  credentials?: CredentialSource;
}

/** Gives the token of a credential sealed by this node's agent, for calls to other nodes. */
export interface CredentialSource {
  token(): Promise<string>;
}

/** The user a daemon's call acts for (metadata gproc-act-as). */
export interface ActAs {
  uid: number;
  gid: number;
  groups?: number[];
}

/** Metadata naming the user a call acts for. */
export function actAsMetadata(who: ActAs | undefined): Metadata {
  const md = new Metadata();
  if (who)
    md.set(
      'gproc-act-as',
      `${who.uid}:${who.gid}${who.groups?.length ? `:${who.groups.join(',')}` : ''}`,
    );
  return md;
}

/** Where to dial `node`, with which credentials. */
export function channelFor(
  node: NodeConfig,
  access: Access,
): { target: string; credentials: ChannelCredentials } {
  const { config } = access;
  const { tls } = config;
  // A registration read from etcd names its socket too, but only a certificate proves which
  // node answers: with etcd membership, no socket but our own node's.
  const sockets = access.self === 0 && !config.membership && existsSync(node.socket);
  if (!tls || node.id === access.self || sockets)
    return { target: `unix:${node.socket}`, credentials: ChannelCredentials.createInsecure() };
  const ca = readPem(tls.ca, 'CA');
  const verify = {
    checkServerIdentity: (host: string, cert: PeerCertificate): Error | undefined => {
      const err = checkServerIdentity(host, cert);
      if (err) return err;
      const id = nodeIdOf(cert.subjectaltname);
      return id === node.id
        ? undefined
        : new Error(
            `the agent at ${node.address} has a certificate for ${id ? `node ${id}` : 'no node'}, not node ${node.id}`,
          );
    },
  };
  if (access.role === 'daemon') {
    const mine = ownTls(access);
    return {
      target: node.address,
      credentials: ChannelCredentials.createSsl(
        ca,
        readPem(mine.key, 'key'),
        readPem(mine.cert, 'certificate'),
        verify,
      ),
    };
  }
  const source = access.credentials;
  if (!source)
    throw new ConfigError(
      access.self === 0
        ? `this machine is no node: reaching node ${node.id} as a user needs a credential from your own node's agent (run it on a node, or as root with this login host's certificate)`
        : `node ${node.id} is another node: reaching it needs a credential from this node's agent`,
    );
  const call = CallCredentials.createFromMetadataGenerator((_opts, cb) => {
    source.token().then(
      (token) => {
        const md = new Metadata();
        md.set('gproc-credential', token);
        cb(null, md);
      },
      (err: Error) => cb(err),
    );
  });
  return {
    target: node.address,
    credentials: ChannelCredentials.createSsl(ca, null, null, verify).compose(call),
  };
}

/**
 * The key and certificate a daemon (a mount, or root's CLI on a login host) presents to
 * agents: its node's, or, with `membership` (etcd), also before its node registered
 * (`{id}` in the paths; `{name}` stands for the node id then) and on a login host, which is
 * no node: `{id}` stands for 0 and `{name}` for the host name, naming the login host's own
 * certificate from the cluster CA (README, "Membership through etcd").
 * @throws ConfigError when a static cluster's daemon is no node of it.
 */
export function ownTls(access: Access): TlsConfig {
  const { config } = access;
  const self = config.nodes.find((n) => n.id === access.self);
  if (self) return tlsFor(config.tls!, self);
  if (!config.membership)
    throw new ConfigError(
      `this machine is no node of ${config.source} (give --node): a daemon speaks to other nodes with its node's certificate`,
    );
  const name = access.self === 0 ? hostname() : String(access.self);
  return tlsFor(config.tls!, { id: access.self, name, address: '', socket: '' });
}

/**
 * The calls that only read, which gRPC may send again when a connection drops under them
 * (UNAVAILABLE): an agent that closed an idle or unanswered connection (its keepalive, its
 * idle limit, a restart) while a call was being put on it. A retry goes on a new connection,
 * within the call's own deadline. Calls that act (Signal, Spawn, Run, Wait) are never sent
 * twice.
 */
const RETRIED_READS = [
  'GetNodeInfo',
  'GetSnapshot',
  'ReadProcessFile',
  'GetUsage',
  'ReadProcessLinks',
];
const SERVICE_CONFIG = {
  methodConfig: [
    {
      name: RETRIED_READS.map((method) => ({ service: 'gproc.v1.Agent', method })),
      retryPolicy: {
        maxAttempts: defaults.readAttempts,
        initialBackoff: '0.01s',
        maxBackoff: '0.1s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
};

/** Channel options every client uses. */
export const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.service_config': JSON.stringify(SERVICE_CONFIG),
  'grpc.max_receive_message_length': defaults.maxMessageBytes,
  'grpc.max_send_message_length': defaults.limits.requestBytes,
  'grpc.keepalive_time_ms': defaults.keepaliveTimeMs,
  'grpc.keepalive_timeout_ms': defaults.keepaliveTimeoutMs,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': defaults.reprobeIntervalMs / 2,
  'grpc.max_reconnect_backoff_ms': defaults.reprobeIntervalMs,
  'grpc-node.flow_control_window': defaults.flowControlWindowBytes,
};

/**
 * Whether a failed call was refused because the agent's certificate names another node than
 * the one dialled (checkServerIdentity above): the registration lied, or the address is
 * someone else's.
 */
export function isIdentityMismatch(err: unknown): boolean {
  const e = err as { details?: string; message?: string };
  return /has a certificate for (?:node \d+|no node), not node \d+/.test(
    `${e.details ?? ''} ${e.message ?? ''}`,
  );
}
