/**
 * Who may do what on this node (spec section 7): the one place that turns a call's
 * connection (connections.ts) and metadata into the user it acts for, and decides what
 * that user may see and do. Every handler of the service asks here; none checks on its own.
 *
 * - A local caller (Unix socket) is the user the kernel names. Root may also act for
 *   another user by naming it in `gproc-act-as` (a mount on this machine does).
 * - A node peer (mutual TLS, node certificate) must name the user it acts for in
 *   `gproc-act-as`; without it the call is refused, never taken as root.
 * - A user of another node (TLS without a client certificate) shows a credential sealed by
 *   its node's agent (`gproc-credential`, identity/credential.ts). A credential is bound to
 *   the first connection that shows it; another connection may use it only once that one
 *   has closed (a replay from elsewhere while the owner's connection is open is refused).
 * - An anonymous caller (plaintext loopback port) may only read what any user may read.
 *
 * Errors are RpcError: UNAUTHENTICATED (who is calling cannot be established, or is
 * refused), PERMISSION_DENIED (the user may not do it).
 */
import { anyNode, type KnownNodes } from '../identity/certificate';
import { status, type Metadata } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import type { ClusterConfig } from '../config';
import { defaults } from '../defaults';
import { CredentialError, open, type CredentialClaims } from '../identity/credential';
import { parsePidStat } from '../procfs/stat';
import type { Audit } from './audit';
import { describePeer, type Connections, type Peer } from './connections';
import type { Origin } from './processes';
import { RpcError } from './rpc-error';

export const ACT_AS_KEY = 'gproc-act-as';
export const CREDENTIAL_KEY = 'gproc-credential';

/** A user a call acts for, and who vouches for it. */
export interface Principal {
  /** The node the request comes from: this node for local callers. */
  node: number;
  uid: number;
  gid: number;
  groups: number[];
  /** How the user was proven: 'socket', 'node N acting for it', 'credential'. */
  via: string;
  /** The process that asked, on `node`, when known (it becomes the global parent). */
  origin?: Origin;
}

/** Whose private files (environ, io) a reader may see: undefined = everyone's. */
export interface Viewer {
  uid: number | undefined;
}

/** What a call exposes to the policy: grpc-js's call objects all have these. */
export interface CallContext {
  getPeer(): string;
  metadata: Metadata;
}

export class Policy {
  private readonly knownNodes: KnownNodes;
  /** Credentials seen: nonce -> the connection it is bound to, and its expiry. */
  private readonly bound = new Map<string, { peer: string; exp: number }>();

  constructor(
    private readonly self: number,
    private readonly config: ClusterConfig,
    private readonly connections: Connections,
    private readonly audit: Audit,
    /** The cluster CA, to check credentials (undefined without TLS: none are accepted). */
    private readonly ca: X509Certificate | undefined,
    private readonly procRoot = '/proc',
  ) {
    this.knownNodes = config.membership ? anyNode : new Set(config.nodes.map((n) => n.id));
  }

  /**
   * The user a call acts for.
   * @throws RpcError UNAUTHENTICATED when it cannot be established.
   */
  principal(call: CallContext, method: string): Principal {
    const peer = this.peerOf(call, method);
    const actAs = call.metadata.get(ACT_AS_KEY)[0];
    switch (peer.kind) {
      case 'local': {
        if (actAs !== undefined) {
          if (peer.uid !== 0)
            return this.refuse(
              peer,
              method,
              `uid ${peer.uid} may not act for another user`,
              status.PERMISSION_DENIED,
            );
          return {
            ...this.parseActAs(actAs, peer, method),
            node: this.self,
            via: 'root on the local socket',
          };
        }
        return {
          node: this.self,
          uid: peer.uid,
          gid: peer.gid,
          groups: peer.groups,
          via: 'socket',
          origin: this.originOf(peer.pid),
        };
      }
      case 'node': {
        if (actAs === undefined)
          return this.refuse(peer, method, `node ${peer.node} named no user to act for`);
        return {
          ...this.parseActAs(actAs, peer, method),
          node: peer.node,
          via: `node ${peer.node}`,
        };
      }
      case 'user': {
        const c = this.credential(call, peer, method);
        const origin = c.pid
          ? { node: c.node, pid: c.pid, pgrp: c.pgrp, session: c.session }
          : undefined;
        return {
          node: c.node,
          uid: c.uid,
          gid: c.gid,
          groups: c.groups,
          via: 'credential',
          origin,
        };
      }
      case 'anonymous':
        return this.refuse(
          peer,
          method,
          "anonymous callers (plaintext TCP) may only read; use the node's Unix socket",
        );
      case 'refused':
        return this.refuse(peer, method, peer.reason);
    }
  }

  /**
   * A reader of the node's processes: who may read is anyone the agent can name, and
   * anonymous callers; whose private files they see depends on who they are.
   * @throws RpcError UNAUTHENTICATED for a refused peer or a user without a valid credential.
   */
  viewer(call: CallContext, method: string): Viewer {
    const peer = this.peerOf(call, method);
    if (peer.kind === 'anonymous') return { uid: -1 };
    const p = this.principal(call, method);
    return { uid: p.uid === 0 ? undefined : p.uid };
  }

  /** Whether `viewer` may read a private file (environ, io) of a process owned by `owner`. */
  maySeePrivate(viewer: Viewer, owner: number): boolean {
    return viewer.uid === undefined || viewer.uid === owner;
  }

  /** Whether `who` may consume the exit status of a process started for `owner`. */
  mayConsume(who: Principal, owner: number): boolean {
    return who.uid === 0 || who.uid === owner;
  }

  /**
   * The caller of a Seal: only a local user, whose identity the kernel gives.
   * @throws RpcError PERMISSION_DENIED for any other caller.
   */
  localCaller(call: CallContext, method: string): Principal {
    const peer = this.peerOf(call, method);
    if (peer.kind !== 'local')
      return this.refuse(
        peer,
        method,
        'credentials are sealed for callers on the Unix socket only',
        status.PERMISSION_DENIED,
      );
    return this.principal(call, method);
  }

  /**
   * Admission (spec section 7): may `who` start processes on this node?
   * @throws RpcError PERMISSION_DENIED naming the rule's outcome.
   */
  admit(who: Principal, method: string): void {
    const rules = this.config.admission.filter((r) => r.nodes.includes(this.self));
    if (rules.length === 0 || who.uid === 0) return;
    const user = accountName('passwd', who.uid);
    const groups = [who.gid, ...who.groups];
    const groupNames = new Set(
      groups.map((g) => accountName('group', g)).filter((n): n is string => n !== undefined),
    );
    const admitted = rules.some(
      (r) =>
        r.users.some((u) => u === who.uid || u === user) ||
        r.groups.some((g) => (typeof g === 'number' ? groups.includes(g) : groupNames.has(g))),
    );
    if (!admitted) {
      const reason = `uid ${who.uid}${user ? ` (${user})` : ''} is not admitted to node ${this.self} by the cluster file's admission rules`;
      this.audit.refusal({ node: who.node, uid: who.uid, via: who.via, method, reason });
      throw new RpcError(status.PERMISSION_DENIED, reason);
    }
  }

  private peerOf(call: CallContext, method: string): Peer {
    const peer = this.connections.peer(call.getPeer());
    if (!peer) {
      this.audit.refusal({
        peer: call.getPeer(),
        method,
        reason: 'a connection the agent did not accept',
      });
      throw new RpcError(status.UNAUTHENTICATED, 'unknown connection');
    }
    return peer;
  }

  private refuse(
    peer: Peer,
    method: string,
    reason: string,
    code: status = status.UNAUTHENTICATED,
  ): never {
    // A refused peer is audited once, when it connects; its calls are not.
    if (peer.kind !== 'refused') this.audit.refusal({ peer: describePeer(peer), method, reason });
    throw new RpcError(code, reason);
  }

  /** `UID:GID[:G1,G2...]` of gproc-act-as. */
  private parseActAs(text: unknown, peer: Peer, method: string): Omit<Principal, 'node' | 'via'> {
    const m =
      typeof text === 'string'
        ? /^(\d{1,10}):(\d{1,10})(?::((?:\d{1,10},){0,64}\d{1,10})?)?$/.exec(text)
        : null;
    if (!m) return this.refuse(peer, method, `malformed ${ACT_AS_KEY}`);
    const [uid, gid] = [Number(m[1]), Number(m[2])];
    const groups = m[3] ? m[3].split(',').map(Number) : [];
    if (![uid, gid, ...groups].every((n) => n <= 0xffffffff))
      return this.refuse(peer, method, `malformed ${ACT_AS_KEY}`);
    return { uid, gid, groups };
  }

  private credential(call: CallContext, peer: Peer, method: string): CredentialClaims {
    const token = call.metadata.get(CREDENTIAL_KEY)[0];
    if (typeof token !== 'string')
      return this.refuse(
        peer,
        method,
        'no credential (a user of another node needs one sealed by its own agent)',
      );
    if (!this.ca)
      return this.refuse(peer, method, 'this agent has no CA to check credentials with');
    let claims: CredentialClaims;
    try {
      claims = open(token, {
        ca: this.ca,
        self: this.self,
        knownNodes: this.knownNodes,
        skewMs: defaults.credentialSkewMs,
      });
    } catch (err) {
      if (err instanceof CredentialError) return this.refuse(peer, method, err.message);
      throw err;
    }
    const now = Date.now();
    const here = call.getPeer();
    const seen = this.bound.get(claims.nonce);
    if (seen && seen.peer !== here && this.connections.peer(seen.peer)) {
      return this.refuse(peer, method, 'credential replayed from another connection');
    }
    if (!seen || seen.peer !== here) {
      for (const [nonce, b] of this.bound)
        if (b.exp + defaults.credentialSkewMs < now) this.bound.delete(nonce);
      this.bound.set(claims.nonce, { peer: here, exp: claims.exp });
    }
    if (!this.connections.authenticated(here, claims.node, claims.uid)) {
      return this.refuse(
        peer,
        method,
        `more than ${defaults.limits.connectionsPerPeer} connections of uid ${claims.uid} of node ${claims.node}`,
        status.RESOURCE_EXHAUSTED,
      );
    }
    return claims;
  }

  /** The origin of a local caller: its pid, process group and session on this node. */
  private originOf(pid: number): Origin | undefined {
    if (pid <= 0) return undefined; // the caller is outside this agent's PID namespace
    try {
      const { pgrp, session } = parsePidStat(readFileSync(`${this.procRoot}/${pid}/stat`));
      return { node: this.self, pid, pgrp, session };
    } catch {
      return undefined;
    }
  }
}

/** The name of a uid (`passwd`) or gid (`group`) through NSS (getent), if it has one. */
function accountName(db: 'passwd' | 'group', id: number): string | undefined {
  try {
    const line = execFileSync('getent', [db, String(id)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: defaults.accountLookupTimeoutMs,
    });
    return line.split(':')[0] || undefined;
  } catch {
    return undefined;
  }
}
