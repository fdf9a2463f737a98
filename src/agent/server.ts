/**
 * Starting and stopping an agent: the gRPC server for one node of the cluster file,
 * listening at the address the file gives for it (spec section 2).
 */
import { Server, type ServerCredentials } from '@grpc/grpc-js';
import { createServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { findNode, splitAddress, type ClusterConfig } from '../config';
import { defaults } from '../defaults';
import { createLogger, type Logger } from '../log';
import { agentService } from '../proto';
import { serverCredentials } from '../tls';
import { LoopbackCallers } from './peer';
import { defaultReaderThreads } from './reader-pool';
import { createAgentService } from './service';
import { resolve } from 'node:path';

export interface AgentOptions {
  config: ClusterConfig;
  /** Node id or name in the cluster file. */
  node: string | number;
  insecure: boolean;
  /** /proc tree to serve (default "/proc"). */
  procRoot?: string;
  /** Snapshot reader threads (default: one per extra CPU, see reader-pool). */
  readerThreads?: number;
  log?: Logger;
}

export interface RunningAgent {
  server: Server;
  /** The port bound (the configured one). */
  port: number;
  /** Stops accepting calls and ends the open ones. */
  close(): Promise<void>;
}

/**
 * Starts an agent.
 * @throws ConfigError for an unknown node or credentials that are not allowed; the bind
 *   error (EADDRINUSE...) when the address cannot be listened on.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const node = findNode(opts.config, opts.node);
  const log = opts.log ?? createLogger('agent', { node: node.id });
  const credentials = serverCredentials(opts.config, node.address, opts.insecure);
  // Plaintext is only ever on loopback: there the agent accepts connections itself, to
  // learn from the kernel which user each caller is (peer.ts).
  const callers = opts.config.tls ? undefined : new LoopbackCallers();
  const service = createAgentService({
    node: { id: node.id, name: node.name },
    procRoot: opts.procRoot ?? '/proc',
    log,
    childEnv: { GPROC_NODE: String(node.id), GPROC_CONFIG: resolve(opts.config.source) },
    readerThreads: opts.readerThreads ?? defaultReaderThreads(),
    callers,
  });
  const server = new Server({
    'grpc.max_receive_message_length': defaults.maxMessageBytes,
    'grpc.max_send_message_length': defaults.maxMessageBytes,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_connection_idle_ms': defaults.maxConnectionIdleMs,
    'grpc.http2.min_ping_interval_without_data_ms': defaults.keepaliveTimeMs / 2,
  });
  server.addService(agentService().service, service.handlers);
  let tcp: TcpServer | undefined;
  let port: number;
  if (callers) {
    tcp = await listenAccepting(server, credentials, node.address, callers);
    port = (tcp.address() as AddressInfo).port;
  } else {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(node.address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
  }
  log.info({ address: node.address, nodeName: node.name }, 'agent listening');
  return {
    server,
    port,
    close: async () => {
      tcp?.close();
      await new Promise<void>((done) => {
        server.tryShutdown(() => done());
        setTimeout(() => {
          server.forceShutdown();
          done();
        }, 1000).unref();
      });
      await service.close();
    },
  };
}

/**
 * Listens at `address` with a TCP server of the agent's own, noting every connection in
 * `callers` before gRPC serves it.
 * @throws the listen error (EADDRINUSE...).
 */
async function listenAccepting(server: Server, credentials: ServerCredentials, address: string, callers: LoopbackCallers): Promise<TcpServer> {
  const injector = server.createConnectionInjector(credentials);
  const tcp = createServer((socket) => {
    callers.accept(socket);
    injector.injectConnection(socket);
  });
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host, port }, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  return tcp;
}
