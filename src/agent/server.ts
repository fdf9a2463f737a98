/**
 * Starting and stopping an agent: the gRPC server for one node of the cluster file,
 * listening at the address the file gives for it (spec section 2).
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { ServerHttp2Session } from 'node:http2';
import type { Server as NetServer } from 'node:net';
import { resolve } from 'node:path';

import { anyNode, nodeIdOf } from '../identity/certificate';
import {
  checkNode,
  ConfigError,
  findNode,
  isLoopback,
  readPem,
  splitAddress,
  tlsFor,
  type ClusterConfig,
  type NodeConfig,
} from '../config';
import { startResponder } from '../liveness/responder';
import { defaults } from '../defaults';
import { loadSealer } from '../identity/credential';
import { createLogger, type Logger } from '../log';
import { AgentMetrics } from '../metrics/agent';
import { metricsKey, serveMetrics } from '../metrics/http';
import { agentService } from '../proto';
import { createAudit } from './audit';
import { Connections } from './connections';
import { Policy } from './policy';
import { defaultReaderThreads } from './reader-pool';
import { createAgentService } from './service';

export interface AgentOptions {
  config: ClusterConfig;
  /** Node id or name in the cluster file (with `membership`: the id, 1..511). */
  node: string | number;
  /**
   * With `membership` in the cluster file, what this agent registers for its node: its name,
   * address and (optionally) socket (the id is `node`).
   */
  register?: { name: string; address: string; socket?: string };
  insecure: boolean;
  /** /proc tree to serve (default "/proc"). */
  procRoot?: string;
  /** Snapshot reader threads (default: one per extra CPU, see reader-pool). */
  readerThreads?: number;
  /** The audit log's file (default `defaults.auditLog`). */
  auditLog?: string;
  /**
   * Where the records of the processes the agent started are kept across its restarts
   * (default `defaults.stateDir`/<node name>; native-notes/durable-processes.md).
   */
  stateDir?: string;
  log?: Logger;
}

export interface RunningAgent {
  server: Server;
  /** Stops accepting calls and ends the open ones. */
  close(): Promise<void>;
}

/**
 * Starts an agent: its Unix socket for local users, and its address for other nodes
 * (mutual TLS) or, with --insecure on loopback, for anonymous readers.
 * @throws ConfigError for an unknown node, unreadable keys, or plaintext that is not
 *   allowed; the listen error (EADDRINUSE...) when an address cannot be listened on.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { config } = opts;
  const node = config.membership ? registeredNode(opts) : findNode(config, opts.node);
  const log = opts.log ?? createLogger('agent', { node: node.id });
  const files = config.tls && tlsFor(config.tls, node);
  const tls = files && {
    ca: readPem(files.ca, 'CA'),
    cert: readPem(files.cert, 'certificate'),
    key: readPem(files.key, 'key'),
  };
  if (!tls) {
    if (!opts.insecure)
      throw new ConfigError(
        `${config.source} has no "tls" section: give --insecure to use plaintext gRPC on loopback`,
      );
    if (!isLoopback(node.address))
      throw new ConfigError(`--insecure is allowed only on loopback, not on ${node.address}`);
  }
  // The certificate says which node this is (spec 7): an agent whose certificate names
  // another node would register (or serve) a node it cannot prove to be.
  if (tls && config.membership) {
    const certified = nodeIdOf(new X509Certificate(tls.cert).subjectAltName);
    if (certified !== node.id)
      throw new ConfigError(
        `${files.cert} is the certificate of ${certified ? `node ${certified}` : 'no node'}, not of node ${node.id}`,
      );
  }
  const audit = createAudit(opts.auditLog ?? defaults.auditLog);
  const connections = new Connections(audit);
  const procRoot = opts.procRoot ?? '/proc';
  const metrics = new AgentMetrics(procRoot);
  metrics.connections = () => connections.countByKind();
  const policy = new Policy(
    node.id,
    config,
    connections,
    audit,
    tls && new X509Certificate(tls.ca),
    procRoot,
  );
  const service = createAgentService({
    node: { id: node.id, name: node.name },
    procRoot,
    log,
    audit,
    policy,
    sealer: tls && loadSealer(tls.key, tls.cert),
    childEnv: { GPROC_NODE: String(node.id), GPROC_CONFIG: resolve(config.source) },
    readerThreads: opts.readerThreads ?? defaultReaderThreads(),
    stateDir: opts.stateDir ?? resolve(defaults.stateDir, node.name),
    metrics,
  });
  const server = new Server({
    'grpc.max_receive_message_length': defaults.limits.requestBytes,
    'grpc.max_send_message_length': defaults.maxMessageBytes,
    'grpc.keepalive_permit_without_calls': 1,
    // With the connections per peer bounded, this bounds the calls one peer has in progress.
    'grpc.max_concurrent_streams': defaults.limits.streamsPerConnection,
    'grpc.max_connection_idle_ms': defaults.maxConnectionIdleMs,
    'grpc.http2.min_ping_interval_without_data_ms': defaults.keepaliveTimeMs / 2,
    // The agent pings its callers too: a caller that vanished (cut off, frozen) ends its
    // calls here, so a run whose caller is gone is hung up (service.ts).
    'grpc.keepalive_time_ms': defaults.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': defaults.keepaliveTimeoutMs,
    // Every call of every method is timed here, once (metrics/agent.ts).
    interceptors: [metrics.interceptor()],
  });
  server.addService(agentService().service, service.handlers);
  // Every connection is accepted here, its peer noted (connections.ts), then served by gRPC
  // as plaintext HTTP/2: TLS, where there is any, was done by our own listener.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  dropWithoutReset(server, connections);
  const inject = (socket: Parameters<typeof injector.injectConnection>[0]) =>
    injector.injectConnection(socket);
  const listeners: NetServer[] = [];
  let heartbeat: Awaited<ReturnType<typeof startResponder>> | undefined;
  let endpoint: { close(): Promise<void> } | undefined;
  try {
    listeners.push(await connections.listenUnix(node.socket, inject));
    listeners.push(
      tls
        ? await connections.listenTls(
            node.address,
            tls,
            config.membership ? anyNode : new Set(config.nodes.map((n) => n.id)),
            inject,
          )
        : await connections.listenPlain(node.address, inject),
    );
    const { host, port } = splitAddress(node.address);
    heartbeat = await startResponder({ host, port, node: node.id, procRoot });
    // While the table is read, its count is the heartbeat's: /proc is not listed twice.
    const responder = heartbeat;
    service.table.on('update', (state) => responder.counted(state.processes.size));
    if (node.metrics?.agent) {
      const key = metricsKey(config.source, config.nodes.indexOf(node), 'agent');
      endpoint = await serveMetrics(metrics.registry, node.metrics.agent, key, log);
    }
  } catch (err) {
    for (const l of listeners) l.close();
    await heartbeat?.close();
    throw err;
  }
  log.info(
    { address: node.address, socket: node.socket, nodeName: node.name, tls: !!tls },
    'agent listening',
  );
  // Listening and one snapshot taken first: a node that shows up in the views answers at once.
  const registration =
    config.membership &&
    (await import('../cluster/etcd-membership')).registerNode(config, node, log, service.warmUp());
  return {
    server,
    close: async () => {
      await registration?.close();
      for (const l of listeners) l.close();
      await heartbeat?.close();
      await endpoint?.close();
      await new Promise<void>((done) => {
        server.tryShutdown(() => done());
        setTimeout(() => {
          server.forceShutdown();
          done();
        }, defaults.agentShutdownGraceMs).unref();
      });
      await service.close();
      audit.close();
    },
  };
}

/**
 * The node an agent of a cluster with `membership` registers: its id from --node, the rest
 * from `register` (--name, --address, --socket).
 * @throws ConfigError naming the missing or bad option.
 */
function registeredNode(opts: AgentOptions): NodeConfig {
  if (!opts.register)
    throw new ConfigError(
      `${opts.config.source} has "membership": give this node's --name and --address (it registers them in etcd)`,
    );
  const id = /^\d+$/.test(String(opts.node)) ? Number(opts.node) : NaN;
  return checkNode({ id, ...opts.register }, 'this node', (key, why) => {
    const flag = { id: '--node', name: '--name', address: '--address', socket: '--socket' }[
      key.split('.')[1] ?? 'id'
    ];
    throw new ConfigError(`${flag ?? key}: ${why}`);
  });
}

/**
 * grpc-js ends a connection whose peer leaves its keepalive ping unanswered (a caller that
 * vanished, or whose process stalled over `defaults.keepaliveTimeoutMs`) with
 * `session.destroy()`, which resets every call still open on it with RST_STREAM NO_ERROR
 * and no gRPC status: a grpc-js client reads that as INTERNAL ("Call ended without gRPC
 * status"). Here such a connection's socket is destroyed first, so nothing more is sent
 * and its calls end as a dropped connection (UNAVAILABLE). A session ended with an error
 * or a code (the peer's reset, a shutdown) is left to grpc-js.
 * @throws Error when grpc-js no longer keeps the HTTP/2 servers of its connection
 *   injectors where this looks for them (its `http2Servers`, not public).
 */
function dropWithoutReset(server: Server, connections: Connections): void {
  const http2Servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> })
    .http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0)
    throw new Error('grpc-js keeps no http2Servers: cannot watch its connections');
  for (const h2 of http2Servers.keys()) {
    h2.on('session', (session: ServerHttp2Session) => {
      const peer = `${session.socket.remoteAddress}:${session.socket.remotePort}`;
      const destroy = session.destroy.bind(session);
      session.destroy = (...args: Parameters<ServerHttp2Session['destroy']>) => {
        if (args.length === 0) connections.drop(peer);
        destroy(...args);
      };
    });
  }
}
