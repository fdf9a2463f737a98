/**
 * The Prometheus endpoint of a daemon (spec section 8): plain HTTP, like node_exporter, at
 * the address the cluster file gives (`nodes[i].metrics.agent` or `.mount`). It answers
 * `GET /metrics` (and HEAD) with the daemon's registry in Prometheus text format, 404 for
 * any other path and 405 for any other method. A malformed request is answered 400 and
 * its connection closed; nothing a client sends can end the daemon.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ConfigError, splitAddress } from '../config';
import { defaults } from '../defaults';
import type { Logger } from '../log';

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** "host:port" it listens on (the port the kernel chose when the address gave 0). */
  address: string;
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

/**
 * Serves `registry` at `http://<address>/metrics`.
 * @param key the cluster file's key of `address`, for messages ("nodes[0].metrics.agent").
 * @throws ConfigError naming `key` when the address cannot be listened on (in use, not an
 *   address of this machine, a privileged port).
 */
export async function serveMetrics(
  registry: Registry,
  address: string,
  key: string,
  log: Logger,
): Promise<MetricsServer> {
  const { host, port } = splitAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  server.requestTimeout = defaults.metricsRequestMs;
  server.headersTimeout = defaults.metricsRequestMs;
  server.maxConnections = defaults.metricsConnections;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          `${key}: cannot serve metrics on ${address}: ${err.code ?? err.message}${
            err.code === 'EADDRINUSE' ? ' (the address is in use)' : ''
          }`,
        ),
      );
    server.once('error', failed);
    server.listen({ host, port }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'metrics endpoint failed'));
  const bound = server.address();
  const actual =
    bound && typeof bound === 'object'
      ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
      : address;
  log.info({ metrics: actual }, 'metrics served at /metrics');
  return { address: actual, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The cluster file's key of a node's metrics address, for messages ("c.json: nodes[0].metrics.agent"). */
export function metricsKey(source: string, index: number, daemon: 'agent' | 'mount'): string {
  return `${source}: nodes[${index}].metrics.${daemon}`;
}
