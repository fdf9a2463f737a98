/**
 * Transport security of the agents (spec section 7). With `tls` in the cluster file, agents
 * and their clients use mutually authenticated TLS from the cluster's CA. Without it, a
 * plaintext connection is allowed only with --insecure and only on loopback.
 */
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { ConfigError, isLoopback, type ClusterConfig } from './config';

function pem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/**
 * Credentials an agent listens with.
 * @throws ConfigError when TLS files cannot be read or plaintext is not allowed here.
 */
export function serverCredentials(config: ClusterConfig, address: string, insecure: boolean): ServerCredentials {
  if (config.tls) {
    const { ca, cert, key } = config.tls;
    return ServerCredentials.createSsl(pem(ca, 'CA'), [{ cert_chain: pem(cert, 'certificate'), private_key: pem(key, 'key') }], true);
  }
  if (!insecure) throw new ConfigError(`${config.source} has no "tls" section: give --insecure to use plaintext gRPC on loopback`);
  if (!isLoopback(address)) throw new ConfigError(`--insecure is allowed only on loopback, not on ${address}`);
  return ServerCredentials.createInsecure();
}

/**
 * Credentials a client (mount, CLI) connects to `address` with.
 * Plaintext to loopback is allowed when the cluster has no TLS (the CLI has no --insecure
 * of its own: it follows the cluster file).
 */
export function channelCredentials(config: ClusterConfig, address: string): ChannelCredentials {
  if (config.tls) {
    const { ca, cert, key } = config.tls;
    return ChannelCredentials.createSsl(pem(ca, 'CA'), pem(key, 'key'), pem(cert, 'certificate'));
  }
  if (!isLoopback(address)) {
    throw new ConfigError(`${config.source} has no "tls" section, and plaintext gRPC is used only on loopback, not to ${address}`);
  }
  return ChannelCredentials.createInsecure();
}
