/**
 * Who is at the other end of a Unix socket: the credentials the kernel recorded when the
 * peer connected (SO_PEERCRED, SO_PEERGROUPS), through the small addon
 * src/native/peercred.c (dist/peercred.node, built by `make build`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { join } from 'node:path';

export interface PeerCredentials {
  uid: number;
  gid: number;
  /** In this process's PID namespace; 0 when the peer's process is not visible from it. */
  pid: number;
  /** Supplementary groups, in the kernel's order. */
  groups: number[];
}

interface Addon {
  peerCredentials(fd: number): PeerCredentials;
}

/**
 * Where the addon may be: next to the bundle (dist/gproc.js, where __dirname is dist/), or
 * in dist/ when this file runs from source (tests).
 */
const CANDIDATES = [
  join(__dirname, 'peercred.node'),
  join(__dirname, '..', '..', 'dist', 'peercred.node'),
];

let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  const path = CANDIDATES.find((p) => existsSync(p));
  if (!path)
    throw new Error(
      `peercred.node is missing (looked for ${CANDIDATES.join(', ')}): run "make build"`,
    );
  // createRequire: a require that esbuild does not try to bundle (the path is only known here).
  addon = createRequire(__filename)(path) as Addon;
  return addon;
}

/**
 * The kernel's record of the peer of a connected Unix socket.
 * @throws Error when the socket has no file descriptor (not connected, or not a
 *   descriptor-backed handle); an Error with `code` set to the errno name from the addon
 *   (ENODATA for a TCP socket, which carries no credentials; EBADF, ENOTSOCK).
 */
export function peerCredentials(socket: Socket): PeerCredentials {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0)
    throw new Error('peerCredentials: the socket has no file descriptor (is it connected?)');
  return load().peerCredentials(fd);
}
