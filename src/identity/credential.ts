/**
 * Credentials sealed by a node's agent for one of its users (spec section 7), as MUNGE does
 * for Slurm: the agent learns the caller's uid and groups from the kernel (SO_PEERCRED on its
 * Unix socket), and signs them, with an expiry, a nonce and the nodes that may accept them,
 * with its node key. The token carries the node's certificate, so any agent of the cluster
 * checks it against the cluster CA and learns which node vouches, from the certificate.
 *
 * Token: `<claims>.<certificate>.<signature>`, each base64url: the claims as JSON, the
 * node certificate as DER, an ECDSA-SHA256 signature over `<claims>.<certificate>`.
 */
import {
  createPrivateKey,
  randomBytes,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { certificateProblem, nodeIdOf, type KnownNodes } from './certificate';
import { defaults } from '../defaults';

/** What a credential says: who (uid, gid, groups), vouched for by which node, for whom. */
export interface CredentialClaims {
  /** The node whose agent sealed it; must be the node its certificate names. */
  node: number;
  uid: number;
  gid: number;
  /** Supplementary groups (SO_PEERGROUPS). */
  groups: number[];
  /** The caller as its own node sees it (0 when the agent cannot see its PID namespace). */
  pid: number;
  pgrp: number;
  session: number;
  /** Node ids whose agents may accept it. */
  aud: number[];
  /** Issued and expires, wall clock ms. */
  iat: number;
  exp: number;
  /** 16 random bytes, hex: ties the credential to the connection that first shows it. */
  nonce: string;
}

/** A node's signing identity: its key and certificate (the tls section's files). */
export interface Sealer {
  key: KeyObject;
  certDer: Buffer;
}

export function loadSealer(keyPem: Buffer, certPem: Buffer): Sealer {
  return { key: createPrivateKey(keyPem), certDer: new X509Certificate(certPem).raw };
}

/** Signs `claims` (nonce added here) into a token. */
export function seal(claims: Omit<CredentialClaims, 'nonce'>, sealer: Sealer): string {
  const body = Buffer.from(
    JSON.stringify({ ...claims, nonce: randomBytes(16).toString('hex') }),
  ).toString('base64url');
  const cert = sealer.certDer.toString('base64url');
  const sig = sign('sha256', Buffer.from(`${body}.${cert}`), sealer.key).toString('base64url');
  return `${body}.${cert}.${sig}`;
}

/** A token refused: `message` says why, for the audit log and the caller. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

/** What an agent checks a token against. */
export interface OpenOptions {
  ca: X509Certificate;
  /** This node's id: it must be in the audience. */
  self: number;
  /** Node ids of the cluster file. */
  knownNodes: KnownNodes;
  /** Allowed clock difference between nodes, ms. */
  skewMs: number;
  nowMs?: number;
}

/**
 * Checks a token: its certificate against the cluster CA (and that it names a node of the
 * cluster), its signature against that certificate, the node it claims against the
 * certificate's, its times and its audience.
 * @throws CredentialError saying which check failed.
 */
export function open(token: string, opts: OpenOptions): CredentialClaims {
  if (token.length > defaults.credentialMaxBytes) throw new CredentialError('credential too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new CredentialError('malformed credential');
  const [body, certText, sigText] = parts;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(certText, 'base64url'));
  } catch {
    throw new CredentialError('malformed credential certificate');
  }
  const problem = certificateProblem(cert, opts.ca, opts.nowMs);
  if (problem) throw new CredentialError(`credential ${problem}`);
  const node = nodeIdOf(cert.subjectAltName);
  if (node === undefined) throw new CredentialError('credential certificate names no node');
  if (!opts.knownNodes.has(node))
    throw new CredentialError(`credential from node ${node}, which the cluster file does not hold`);
  if (
    !verify(
      'sha256',
      Buffer.from(`${body}.${certText}`),
      cert.publicKey,
      Buffer.from(sigText, 'base64url'),
    )
  ) {
    throw new CredentialError('credential signature does not verify');
  }
  let claims: CredentialClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as CredentialClaims;
  } catch {
    throw new CredentialError('malformed credential claims');
  }
  if (!validClaims(claims)) throw new CredentialError('malformed credential claims');
  if (claims.node !== node)
    throw new CredentialError(
      `credential claims node ${claims.node} but is signed by node ${node}`,
    );
  const now = opts.nowMs ?? Date.now();
  if (claims.iat > now + opts.skewMs) throw new CredentialError('credential issued in the future');
  if (claims.exp + opts.skewMs < now) throw new CredentialError('credential has expired');
  if (!claims.aud.includes(opts.self))
    throw new CredentialError(`credential is not for node ${opts.self}`);
  return claims;
}

const isId = (v: unknown) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

function validClaims(c: CredentialClaims): boolean {
  return (
    typeof c === 'object' &&
    c !== null &&
    [c.node, c.uid, c.gid, c.pid, c.pgrp, c.session].every(isId) &&
    Array.isArray(c.groups) &&
    c.groups.every(isId) &&
    Array.isArray(c.aud) &&
    c.aud.every(isId) &&
    Number.isFinite(c.iat) &&
    Number.isFinite(c.exp) &&
    typeof c.nonce === 'string' &&
    /^[0-9a-f]{32}$/.test(c.nonce)
  );
}
