/**
 * Starting and stopping an agent: the gRPC server for one node of the cluster file,
 * listening at the address the file gives for it (spec section 2).
 */
import { Server } from '@grpc/grpc-js';
import { findNode, type ClusterConfig } from '../config';
import { defaults } from '../defaults';
import { createLogger, type Logger } from '../log';
import { agentService } from '../proto';
import { serverCredentials } from '../tls';
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
  const service = createAgentService({
    node: { id: node.id, name: node.name },
    procRoot: opts.procRoot ?? '/proc',
    log,
    childEnv: { GPROC_NODE: String(node.id), GPROC_CONFIG: resolve(opts.config.source) },
    readerThreads: opts.readerThreads ?? defaultReaderThreads(),
  });
  const server = new Server({
    'grpc.max_receive_message_length': defaults.maxMessageBytes,
    'grpc.max_send_message_length': defaults.maxMessageBytes,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': defaults.keepaliveTimeMs / 2,
  });
  server.addService(agentService().service, service.handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(node.address, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info({ address: node.address, nodeName: node.name }, 'agent listening');
  return {
    server,
    port,
    close: async () => {
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
