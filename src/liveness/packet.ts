/**
 * The heartbeat's datagrams (UDP, on the agent's own port number). A mount or a CLI sends a
 * ping; the agent's heartbeat thread answers with a pong, off the agent's main event loop,
 * so that an agent busy with a long snapshot still answers while a stopped or cut-off one
 * does not (native-notes/liveness.md).
 *
 * ping (64 bytes): "GPH1", a 16-byte nonce, zeros.
 * pong (52 bytes): "GPH1", the ping's nonce, node id (u16 BE), 2 reserved bytes, the
 *   agent's wall clock (f64 BE, ms since the epoch), its process count (u32 BE), its boot
 *   id (16 bytes).
 * A pong is never longer than its ping (no amplification), and names the ping's nonce: a
 * pong nobody asked for, or one forged off-path, is ignored.
 */
export const MAGIC = 'GPH1';
export const PING_BYTES = 64;
export const PONG_BYTES = 52;

export interface Pong {
  nonce: Buffer;
  node: number;
  /** The agent's wall clock when it answered, ms since the epoch. */
  wallMs: number;
  /** Processes on the node (entries of its /proc), counted at most a second ago. */
  processes: number;
  /** The node's boot id (/proc/sys/kernel/random/boot_id), 32 hex digits. */
  bootId: string;
}

export function encodePing(nonce: Buffer): Buffer {
  const b = Buffer.alloc(PING_BYTES);
  b.write(MAGIC, 0, 'latin1');
  nonce.copy(b, 4, 0, 16);
  return b;
}

/** The nonce of a ping, or undefined for anything else. */
export function decodePing(b: Buffer): Buffer | undefined {
  if (b.length !== PING_BYTES || b.toString('latin1', 0, 4) !== MAGIC) return undefined;
  return b.subarray(4, 20);
}

export function encodePong(p: Pong): Buffer {
  const b = Buffer.alloc(PONG_BYTES);
  b.write(MAGIC, 0, 'latin1');
  p.nonce.copy(b, 4, 0, 16);
  b.writeUInt16BE(p.node, 20);
  b.writeDoubleBE(p.wallMs, 24);
  b.writeUInt32BE(Math.min(p.processes, 0xffffffff), 32);
  Buffer.from(p.bootId.replace(/-/g, '').padEnd(32, '0').slice(0, 32), 'hex').copy(b, 36);
  return b;
}

/** A pong, or undefined for anything else. */
export function decodePong(b: Buffer): Pong | undefined {
  if (b.length !== PONG_BYTES || b.toString('latin1', 0, 4) !== MAGIC) return undefined;
  return {
    nonce: b.subarray(4, 20),
    node: b.readUInt16BE(20),
    wallMs: b.readDoubleBE(24),
    processes: b.readUInt32BE(32),
    bootId: b.toString('hex', 36, 52),
  };
}
