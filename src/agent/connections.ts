/**
 * The agent's listeners, and who is at the other end of each connection (spec section 7).
 * The agent accepts every connection itself and hands it to gRPC afterwards (grpc-js's
 * connection injector), so it knows each connection's peer before any call comes on it:
 *
 * - its Unix socket: a local user, named by the kernel (SO_PEERCRED, SO_PEERGROUPS);
 * - its TLS port, with a client certificate from the cluster CA that names a node of the
 *   cluster file: that node;
 * - its TLS port without a client certificate: a user of another node, whose every call
 *   must carry a credential sealed by that node's agent (policy.ts);
 * - its TLS port with any other certificate (another CA, expired, no node, a node the
 *   cluster file lacks): refused. Such a connection is still served, so that each call can
 *   answer UNAUTHENTICATED saying why, and the refusal is audited once;
 * - its plaintext loopback port (--insecure): anonymous, may only read.
 *
 * A call names its connection by `call.getPeer()`, which grpc-js spells
 * `${remoteAddress}:${remotePort}`: unique among open TCP connections of one listener. A Unix
 * socket has neither, so each accepted one is given `unix` and a serial number.
 * Connections per local uid, per node and per remote address are bounded
 * (`defaults.limits.connectionsPerPeer`): the one over the bound is closed at once.
 */
import { createServer, type Server as NetServer, type Socket, connect } from 'node:net';
import {
  createServer as createTlsServer,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { splitAddress } from '../config';
import { defaults } from '../defaults';
import { nodeIdOf, type KnownNodes } from '../identity/certificate';
import type { Audit } from './audit';
import { peerCredentials } from './peercred';

/** Who is at the other end of a connection. */
export type Peer =
  | { kind: 'local'; uid: number; gid: number; groups: number[]; pid: number }
  | { kind: 'node'; node: number }
  | { kind: 'user'; address: string }
  | { kind: 'anonymous'; address: string }
  | { kind: 'refused'; reason: string };

/** What a connection is handed to once its peer is known (grpc-js's connection injector). */
export type Inject = (socket: Socket) => void;

/** An open connection: its peer, and the bound it counts against. */
interface Open {
  peer: Peer;
  socket: Socket;
  release: () => void;
  /** Set while a credential user has yet to show a credential. */
  grace?: NodeJS.Timeout;
}

export class Connections {
  private readonly open = new Map<string, Open>();
  private readonly perKey = new Map<string, number>();
  private serial = 0;

  constructor(
    private readonly audit: Audit,
    private readonly limit: number = defaults.limits.connectionsPerPeer,
  ) {}

  /** Open connections by kind of peer ("local", "node"...), for metrics. */
  countByKind(): Record<Peer['kind'], number> {
    const counts = { local: 0, node: 0, user: 0, anonymous: 0, refused: 0 };
    for (const { peer } of this.open.values()) counts[peer.kind]++;
    return counts;
  }

  /** The peer of the connection a call came on (`call.getPeer()`), if this agent accepted it. */
  peer(callPeer: string): Peer | undefined {
    return this.open.get(callPeer)?.peer;
  }

  /**
   * Notes an accepted connection until it closes, or closes it when its peer has too many.
   * @returns false when it was closed.
   */
  accept(socket: Socket, peer: Peer): boolean {
    if (peer.kind === 'local') {
      // grpc-js names a call's connection by remote address and port, which a Unix socket lacks.
      Object.defineProperty(socket, 'remoteAddress', { value: 'unix', configurable: true });
      Object.defineProperty(socket, 'remotePort', { value: ++this.serial, configurable: true });
    }
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    // A user of another node is counted by address until its credential says who it is
    // (`authenticated`), and must say so soon: the address is shared by all of its node's users.
    const unproven = peer.kind === 'user';
    const bucket = limitKey(peer, socket);
    const release = this.hold(
      bucket,
      unproven ? defaults.limits.unprovenPerAddress : this.limit,
      peer,
    );
    if (!release) {
      socket.destroy();
      return false;
    }
    const entry: Open = { peer, socket, release };
    if (unproven) {
      entry.grace = setTimeout(() => socket.destroy(), defaults.credentialGraceMs);
      entry.grace.unref();
    }
    this.open.set(key, entry);
    socket.once('close', () => {
      this.open.delete(key);
      clearTimeout(entry.grace);
      entry.release();
    });
    return true;
  }

  /**
   * Closes a connection at once, sending nothing more on it: its peer sees the connection
   * dropped, and each of its calls still open ends UNAVAILABLE.
   * @param callPeer the connection, as `call.getPeer()` names it.
   */
  drop(callPeer: string): void {
    this.open.get(callPeer)?.socket.destroy();
  }

  /**
   * Notes that the connection a call came on showed a valid credential for `uid` of `node`:
   * from now on it counts against that user's bound, not its address's, and may stay.
   * @returns false (and closes it) when that user has too many connections already.
   */
  authenticated(callPeer: string, node: number, uid: number): boolean {
    const entry = this.open.get(callPeer);
    if (!entry || entry.grace === undefined) return true; // proven before, or not a credential connection
    clearTimeout(entry.grace);
    entry.grace = undefined;
    const release = this.hold(`uid ${uid} of node ${node}`, this.limit, entry.peer);
    entry.release();
    if (!release) {
      entry.release = () => {};
      entry.socket.destroy();
      return false;
    }
    entry.release = release;
    return true;
  }

  /**
   * Counts one more connection against `bucket`.
   * @returns the function that gives it back, or undefined (audited) when the bucket is full.
   */
  private hold(bucket: string, limit: number, peer: Peer): (() => void) | undefined {
    const count = (this.perKey.get(bucket) ?? 0) + 1;
    if (count > limit) {
      this.audit.refusal({
        peer: describePeer(peer),
        reason: `more than ${limit} connections from ${bucket}`,
      });
      return undefined;
    }
    this.perKey.set(bucket, count);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.perKey.get(bucket) ?? 1) - 1;
      if (left > 0) this.perKey.set(bucket, left);
      else this.perKey.delete(bucket);
    };
  }

  /**
   * Listens on the Unix socket `path` (mode 0666: anyone may connect, the kernel says who
   * did), after removing a stale socket file that nobody listens on.
   * @throws the listen error (EADDRINUSE when another agent serves it).
   */
  async listenUnix(path: string, inject: Inject): Promise<NetServer> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    await removeStaleSocket(path);
    const server = createServer((socket) => {
      let peer: Peer;
      try {
        const cred = peerCredentials(socket);
        peer = { kind: 'local', uid: cred.uid, gid: cred.gid, groups: cred.groups, pid: cred.pid };
      } catch (err) {
        this.audit.refusal({
          peer: 'unix',
          reason: `no peer credentials: ${(err as Error).message}`,
        });
        socket.destroy();
        return;
      }
      if (this.accept(socket, peer)) inject(socket);
    });
    await listen(server, { path });
    chmodSync(path, 0o666);
    return server;
  }

  /**
   * Listens at `address` with TLS: the agent's certificate, a client certificate asked for
   * but not required (users of other nodes have none), each connection's peer classified
   * as the module comment says.
   * @param knownNodes node ids of the cluster file.
   */
  async listenTls(
    address: string,
    pem: { ca: Buffer; cert: Buffer; key: Buffer },
    knownNodes: KnownNodes,
    inject: Inject,
  ): Promise<TlsServer> {
    const server = createTlsServer(
      {
        ...pem,
        requestCert: true,
        rejectUnauthorized: false,
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.2',
        handshakeTimeout: defaults.tlsHandshakeTimeoutMs,
      },
      (socket: TLSSocket) => {
        const peer = classifyTls(socket, knownNodes);
        if (peer.kind === 'refused')
          this.audit.refusal({
            peer: `${socket.remoteAddress}:${socket.remotePort}`,
            reason: peer.reason,
          });
        if (this.accept(socket, peer)) inject(socket);
      },
    );
    // Before its handshake a connection proves nothing: it is bounded by address, and the
    // handshake by time, so half-open connections cannot use up the agent's descriptors.
    server.on('connection', (raw: Socket) => {
      const release = this.hold(
        `address ${raw.remoteAddress} (handshaking)`,
        defaults.limits.unprovenPerAddress,
        { kind: 'anonymous', address: raw.remoteAddress ?? '?' },
      );
      if (!release) return raw.destroy();
      raw.once('close', release);
    });
    server.on('tlsClientError', (err, socket) => {
      this.audit.refusal({
        peer: `${socket.remoteAddress}:${socket.remotePort}`,
        reason: `TLS handshake failed: ${err.message.split('\n')[0]}`,
      });
      socket.destroy(); // Node leaves a timed-out handshake's socket open
    });
    await listen(server, splitAddress(address));
    return server;
  }

  /** Listens at a loopback `address` in plaintext (--insecure): every caller is anonymous. */
  async listenPlain(address: string, inject: Inject): Promise<NetServer> {
    const server = createServer((socket) => {
      if (this.accept(socket, { kind: 'anonymous', address: socket.remoteAddress ?? '?' }))
        inject(socket);
    });
    await listen(server, splitAddress(address));
    return server;
  }
}

/** The words OpenSSL's verification codes mean, for refusals a person reads. */
const VERIFY_ERRORS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate not signed by the cluster CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate not signed by the cluster CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate not signed by the cluster CA',
  CERT_SIGNATURE_FAILURE: 'certificate signature does not verify',
};

function classifyTls(socket: TLSSocket, knownNodes: KnownNodes): Peer {
  const address = `${socket.remoteAddress}:${socket.remotePort}`;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.raw) return { kind: 'user', address };
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? 'unknown');
    return {
      kind: 'refused',
      reason: `client ${VERIFY_ERRORS[code] ?? `certificate refused (${code})`}`,
    };
  }
  const node = nodeIdOf(cert.subjectaltname);
  if (node === undefined) return { kind: 'refused', reason: 'client certificate names no node' };
  if (!knownNodes.has(node))
    return {
      kind: 'refused',
      reason: `client certificate is for node ${node}, which the cluster file does not hold`,
    };
  return { kind: 'node', node };
}

/** Which bound a connection counts against. */
function limitKey(peer: Peer, socket: Socket): string {
  switch (peer.kind) {
    case 'local':
      return `uid ${peer.uid}`;
    case 'node':
      return `node ${peer.node}`;
    default:
      return `address ${socket.remoteAddress}`;
  }
}

/** A peer in a few words, for the audit log. */
export function describePeer(peer: Peer): string {
  switch (peer.kind) {
    case 'local':
      return `uid ${peer.uid} on the local socket`;
    case 'node':
      return `node ${peer.node}`;
    case 'user':
    case 'anonymous':
      return `${peer.kind} ${peer.address}`;
    case 'refused':
      return 'refused peer';
  }
}

function listen(
  server: NetServer,
  where: { path: string } | { host: string; port: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Removes `path` if it is a socket nobody listens on (an agent that died left it). */
async function removeStaleSocket(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive)
    throw Object.assign(new Error(`another agent already serves ${path}`), { code: 'EADDRINUSE' });
  try {
    unlinkSync(path);
  } catch {
    // nothing there
  }
}
