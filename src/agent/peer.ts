/**
 * Who is calling, for requests that act for a uid (spec section 7). Over mutually
 * authenticated TLS the caller holds the cluster's key and is trusted to say which uid it
 * acts for. Over plaintext loopback (--insecure) any local user can connect, so the agent
 * asks the kernel who owns the caller's socket, as identd does: the row of /proc/net/tcp
 * (or tcp6) whose local address is the caller's address and port names its uid. A caller
 * that is not root may then act only for itself.
 *
 * Reading /proc/net/tcp walks the kernel's whole connection hash table (about 3 ms here,
 * whatever the number of sockets), so it is done once per connection, not per call: the
 * agent accepts loopback connections itself and remembers each one's uid while it is open.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

/** A caller as the kernel names it: the uid owning its socket and that uid's primary gid. */
export interface Caller {
  uid: number;
  /** From /etc/passwd; undefined when the uid has no entry. */
  gid?: number;
}

interface OpenConnection {
  socket: Socket;
  /** The caller once looked up; null when the kernel did not name one. */
  caller?: Caller | null;
}

/** The callers on an agent's open loopback connections. */
export class LoopbackCallers {
  /** Keyed as grpc-js spells a call's peer: `${remoteAddress}:${remotePort}`. */
  private readonly open = new Map<string, OpenConnection>();

  /** Notes an accepted connection until it closes. */
  accept(socket: Socket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const entry: OpenConnection = { socket };
    this.open.set(key, entry);
    socket.once('close', () => {
      if (this.open.get(key) === entry) this.open.delete(key);
    });
  }

  /**
   * Who is at the other end of the connection a call came on (`call.getPeer()`). The first
   * call on a connection reads /proc/net/tcp and /etc/passwd (synchronously, ~3 ms); later
   * ones are a map lookup.
   * @returns undefined when the connection is not one this agent accepted, or the kernel
   *   lists no such socket.
   */
  caller(peer: string): Caller | undefined {
    const entry = this.open.get(peer);
    if (!entry) return undefined;
    if (entry.caller === undefined) {
      const uid = socketOwner(entry.socket);
      entry.caller = uid === undefined ? null : { uid, gid: primaryGid(uid) };
    }
    return entry.caller ?? undefined;
  }
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
 * A loopback address and port as /proc/net/tcp or tcp6 spells them (proc(5)).
 * @returns undefined when the address is not loopback.
 */
function procNetAddress(ip: string, port: number): { file: string; text: string } | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  if (ip.startsWith('127.')) return { file: '/proc/net/tcp', text: `${hexV4(ip)}:${hexPort}` };
  if (ip === '::1') return { file: '/proc/net/tcp6', text: `00000000000000000000000001000000:${hexPort}` };
  if (ip.startsWith('::ffff:127.')) return { file: '/proc/net/tcp6', text: `0000000000000000FFFF0000${hexV4(ip.slice(7))}:${hexPort}` };
  return undefined;
}

/**
 * The uid owning the caller's end of the accepted loopback connection `socket`: the row of
 * /proc/net/tcp (or tcp6) whose local address is the caller's and whose remote address is
 * this agent's end (proc(5): columns 2 and 3; column 8 is the uid). Both ends are matched:
 * the kernel lets one local port serve connections to different destinations, so the
 * caller's port alone may also name another user's socket.
 * @returns undefined when the connection is not on loopback or no such socket is listed.
 */
function socketOwner(socket: Socket): number | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return undefined;
  const caller = procNetAddress(remoteAddress, remotePort);
  const agent = procNetAddress(localAddress, localPort);
  if (!caller || !agent || caller.file !== agent.file) return undefined;
  let text: string;
  try {
    text = readFileSync(caller.file, 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === caller.text && cols[2] === agent.text) return Number(cols[7]);
  }
  return undefined;
}

/** The primary gid of a uid, from /etc/passwd (undefined if the uid has no entry). */
function primaryGid(uid: number): number | undefined {
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
