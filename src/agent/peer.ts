/**
 * Who is calling, for requests that act for a uid (spec section 7). Over mutually
 * authenticated TLS the caller holds the cluster's key and is trusted to say which uid it
 * acts for. Over plaintext loopback (--insecure) any local user can connect, so the agent
 * asks the kernel who owns the caller's socket, as identd does: the row of /proc/net/tcp
 * (or tcp6) whose local address is the caller's address and port names its uid. A caller
 * that is not root may then act only for itself.
 */
import { readFileSync } from 'node:fs';

/** Parses a grpc-js peer ("127.0.0.1:51234", "[::1]:51234", "ipv4:..."). */
function parsePeer(peer: string): { ip: string; port: number } | undefined {
  const m = /^(?:ipv[46]:)?(?:\[([^\]]+)\]|([\d.]+)):(\d+)$/.exec(peer);
  return m ? { ip: m[1] ?? m[2], port: Number(m[3]) } : undefined;
}

/** The /proc/net/tcp spelling of an IPv4 address: four bytes, little-endian hex. */
function hexV4(ip: string): string {
  return ip
    .split('.')
    .map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/**
 * The uid owning the caller's end of a loopback TCP connection.
 * @returns undefined when the peer is not on loopback or its socket is not found.
 */
export function loopbackPeerUid(peer: string): number | undefined {
  const p = parsePeer(peer);
  if (!p) return undefined;
  const port = p.port.toString(16).toUpperCase().padStart(4, '0');
  let tables: [string, string][];
  if (p.ip.startsWith('127.')) tables = [['/proc/net/tcp', `${hexV4(p.ip)}:${port}`]];
  else if (p.ip === '::1') tables = [['/proc/net/tcp6', `00000000000000000000000001000000:${port}`]];
  else if (p.ip.startsWith('::ffff:127.')) tables = [['/proc/net/tcp6', `0000000000000000FFFF0000${hexV4(p.ip.slice(7))}:${port}`]];
  else return undefined;
  for (const [file, local] of tables) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      return undefined;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1] === local) return Number(cols[7]);
    }
  }
  return undefined;
}

/** The primary gid of a uid, from /etc/passwd (undefined if the uid has no entry). */
export function primaryGid(uid: number): number | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 3 && Number(f[2]) === uid) return Number(f[3]);
    }
  } catch {
    // no passwd file: no answer
  }
  return undefined;
}
