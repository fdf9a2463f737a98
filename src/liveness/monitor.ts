/**
 * Which nodes answer, by heartbeat (packet.ts), on a timer of its own: whether or not
 * anyone reads the view, a node that goes silent is `down` within `defaults.downAfterMs`
 * (plus one interval), and `up` again at its first answer. One connected UDP socket per
 * node, so an agent that is gone while its host is up (nothing listens on its port) is
 * known at the next ping from the ICMP port-unreachable error (ECONNREFUSED): `down`
 * within one interval instead of `downAfterMs`. Each node's last answer gives its
 * round-trip time, its clock offset from ours, its process count and its boot id.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { splitAddress, type NodeConfig } from '../config';
import { defaults } from '../defaults';
import { decodePong, encodePing, type Pong } from './packet';

export type NodeState = 'up' | 'down';

/** What the heartbeat knows of one node. */
export interface NodeHealth {
  state: NodeState;
  /** Wall clock ms of its last answer (undefined: never answered). */
  lastAnswerMs?: number;
  /** Round-trip time of its last answer, ms. */
  rttMs?: number;
  /** Its clock minus ours, ms (from its last answer, halfway through the round trip). */
  clockOffsetMs?: number;
  processes?: number;
  bootId?: string;
}

interface Tracked {
  node: NodeConfig;
  socket: Socket;
  health: NodeHealth;
  /** Outstanding pings: nonce (hex) -> sent at (ms, monotonic). */
  sent: Map<string, number>;
  startedMs: number;
  connected: boolean;
}

export interface MonitorEvents {
  change: [node: number, state: NodeState];
}

export class LivenessMonitor extends EventEmitter<MonitorEvents> {
  private readonly tracked = new Map<number, Tracked>();
  private readonly timer: NodeJS.Timeout;
  private lastTickMs: number | undefined;

  constructor(
    nodes: NodeConfig[],
    private readonly intervalMs: number = defaults.heartbeatIntervalMs,
    private readonly downAfterMs: number = defaults.downAfterMs,
  ) {
    super();
    for (const node of nodes) this.track(node);
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
    this.tick();
  }

  /** The heartbeat's view of `node` (a node not tracked is down). */
  health(node: number): NodeHealth {
    return this.tracked.get(node)?.health ?? { state: 'down' };
  }

  /**
   * Whether `node`'s heartbeat went silent. A node that never answered is not judged here
   * (its heartbeat may be filtered on the way, or it is starting): its calls say whether it
   * answers.
   */
  isDown(node: number): boolean {
    const h = this.health(node);
    return h.state === 'down' && h.lastAnswerMs !== undefined;
  }

  /** Resolves when every node has answered or `ms` passed (a short-lived CLI's first look). */
  async settle(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (
      Date.now() < end &&
      [...this.tracked.values()].some((t) => t.health.lastAnswerMs === undefined)
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const t of this.tracked.values()) t.socket.close();
    this.tracked.clear();
  }

  /**
   * Starts watching `node` (a node that joined), or watches it anew at a changed address.
   * Its state starts as for a node the monitor started with.
   */
  track(node: NodeConfig): void {
    const known = this.tracked.get(node.id);
    if (known && known.node.address === node.address) return;
    if (known) this.untrack(node.id);
    const { host, port } = splitAddress(node.address);
    const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    socket.unref();
    // Up until heard otherwise: a mount that just started must not take its nodes for gone.
    const t: Tracked = {
      node,
      socket,
      health: { state: 'up' },
      sent: new Map(),
      startedMs: performance.now(),
      connected: false,
    };
    socket.on('message', (msg) => this.answer(t, msg));
    socket.on('error', (err) => this.failed(t, err));
    socket.connect(port, host, () => {
      t.connected = true;
      this.ping(t);
    });
    this.tracked.set(node.id, t);
  }

  /** Stops watching node `id` (a node that left the cluster); it emits nothing more. */
  untrack(id: number): void {
    const t = this.tracked.get(id);
    if (!t) return;
    this.tracked.delete(id);
    t.socket.close();
  }

  private tick(): void {
    const now = performance.now();
    // A loop held up (a long request in this process) learns nothing about the nodes: the
    // pongs of the pings it sent are waiting, unread, in the sockets. Judge next time.
    const stalled = this.lastTickMs !== undefined && now - this.lastTickMs > 2 * this.intervalMs;
    this.lastTickMs = now;
    for (const t of this.tracked.values()) {
      for (const [nonce, at] of t.sent) if (now - at > this.downAfterMs) t.sent.delete(nonce);
      this.ping(t);
    }
    // Judge after this turn's I/O (timers run before the poll phase): pongs that arrived
    // since the last tick are read first.
    if (!stalled) setImmediate(() => this.judge());
  }

  private judge(): void {
    const now = performance.now();
    for (const t of this.tracked.values()) {
      const silentFor =
        t.health.lastAnswerMs === undefined
          ? now - t.startedMs
          : Date.now() - t.health.lastAnswerMs;
      if (t.health.state === 'up' && silentFor > this.downAfterMs) this.set(t, 'down');
    }
  }

  private ping(t: Tracked): void {
    if (!t.connected) return; // its address is still being resolved
    const nonce = randomBytes(16);
    t.sent.set(nonce.toString('hex'), performance.now());
    t.socket.send(encodePing(nonce), (err) => err && this.failed(t, err));
  }

  /**
   * A send or receive error on `t`'s socket. ECONNREFUSED is the host's own answer that
   * nothing listens on the port (the agent is gone, or restarting): `down` now, and `up` again
   * at its next answer. A node that never answered is left to its calls, as in `isDown`. Any
   * other error (no route, a full buffer) is silence: the node goes
   * down when its time is up, not at one lost datagram.
   */
  private failed(t: Tracked, err: NodeJS.ErrnoException): void {
    if (err.code !== 'ECONNREFUSED' || t.health.state === 'down') return;
    if (t.health.lastAnswerMs === undefined) return; // starting: judged by its calls (isDown)
    this.set(t, 'down');
  }

  private answer(t: Tracked, msg: Buffer): void {
    const pong: Pong | undefined = decodePong(msg);
    if (!pong) return;
    const key = pong.nonce.toString('hex');
    const sentAt = t.sent.get(key);
    if (sentAt === undefined || pong.node !== t.node.id) return; // not ours, or not that node
    t.sent.delete(key);
    const rtt = performance.now() - sentAt;
    const now = Date.now();
    Object.assign(t.health, {
      lastAnswerMs: now,
      rttMs: rtt,
      clockOffsetMs: pong.wallMs - (now - rtt / 2),
      processes: pong.processes,
      bootId: pong.bootId,
    });
    if (t.health.state === 'down') this.set(t, 'up');
  }

  private set(t: Tracked, state: NodeState): void {
    t.health.state = state;
    this.emit('change', t.node.id, state);
  }
}

/**
 * Calls `onSilent` if `node`, having answered, goes silent (a long call's guard: the
 * client gives up within `defaults.downAfterMs` instead of waiting for its keepalive).
 * @returns a function that stops watching.
 */
export function onSilence(node: NodeConfig, onSilent: () => void): () => void {
  const m = new LivenessMonitor([node]);
  m.on('change', () => {
    if (m.isDown(node.id)) onSilent();
  });
  return () => m.close();
}
