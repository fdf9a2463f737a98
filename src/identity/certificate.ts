/**
 * Node identity in certificates (spec section 7). `gproc certs` writes a node's id into its
 * certificate as the subject alternative name `URI:urn:gproc:node:<id>`; an agent takes the
 * node a peer speaks for from there, never from a request. The CA is the cluster's own.
 */
import { X509Certificate } from 'node:crypto';
import { isNodeId } from '../gpid';

const NODE_URI = /(?:^|, )URI:urn:gproc:node:(\d+)(?=,|$)/;

/**
 * The node ids an agent accepts in peer certificates and credentials: the cluster file's
 * nodes, or, when the nodes register through etcd (and are not known in advance), every id
 * the cluster CA put in a certificate (`anyNode`).
 */
export interface KnownNodes {
  has(id: number): boolean;
}

/** Every node id the cluster CA certifies (membership through etcd: the CA decides who is a node). */
export const anyNode: KnownNodes = { has: (id) => isNodeId(id) };

/** The subject alternative name URI naming node `id`. */
export function nodeUri(id: number): string {
  return `urn:gproc:node:${id}`;
}

/**
 * The node id a certificate names, from its subject alternative names (as Node spells them:
 * `IP Address:198.51.100.1, URI:urn:gproc:node:1`).
 * @returns undefined when it names none, or more than one, or an id outside 1..511.
 */
export function nodeIdOf(subjectAltName: string | undefined): number | undefined {
  if (!subjectAltName) return undefined;
  const all = subjectAltName.split(', ').filter((n) => n.startsWith('URI:urn:gproc:node:'));
  if (all.length !== 1) return undefined;
  const m = NODE_URI.exec(all[0]);
  const id = m ? Number(m[1]) : NaN;
  return isNodeId(id) ? id : undefined;
}

/**
 * Checks that `cert` was issued by `ca` and is valid now.
 * @returns undefined when it is, else why not ("certificate has expired", ...), in the words
 *   OpenSSL uses for the same failures.
 */
export function certificateProblem(
  cert: X509Certificate,
  ca: X509Certificate,
  nowMs = Date.now(),
): string | undefined {
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    return 'certificate not signed by the cluster CA';
  if (nowMs < Date.parse(cert.validFrom)) return 'certificate is not yet valid';
  if (nowMs > Date.parse(cert.validTo)) return 'certificate has expired';
  return undefined;
}
