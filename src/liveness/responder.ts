/**
 * The agent's heartbeat responder: a worker thread of its own, with its own event loop,
 * answering pings (packet.ts) on UDP at the agent's address. The process count it answers
 * with is the agent's table's (`counted`, once per reading of the table) while the table is
 * read; otherwise it lists /proc itself every `defaults.heartbeatCountMs` (a listing of
 * 1,000 processes costs ~2 ms of CPU, a quarter of a percent once a second). A SIGSTOP
 * stops it with the rest of the agent; a long snapshot or a stalled main loop does not.
 *
 * Runs in the thread of dist/heartbeat-worker.js (heartbeat-worker.ts); from source (tests)
 * on the main thread.
 */
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { defaults } from '../defaults';
import { decodePing, encodePong } from './packet';

export interface ResponderOptions {
  host: string;
  port: number;
  node: number;
  procRoot: string;
}

/** A running responder. */
export interface Responder {
  /** The node's process count, as the agent's table just found it. */
  counted(processes: number): void;
  close(): void;
}

/**
 * Answers pings until closed.
 * @returns once bound. @throws the bind error (EADDRINUSE...).
 */
export async function respond(opts: ResponderOptions): Promise<Responder> {
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  let processes = 0;
  /** Monotonic ms when the table last gave the count (-Infinity: never). */
  let givenAt = -Infinity;
  const count = () => {
    // Given lately (the table's readings come once a second, give or take): not counted here.
    if (performance.now() - givenAt < 2 * defaults.heartbeatCountMs) return;
    try {
      processes = readdirSync(opts.procRoot).filter(
        (n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57,
      ).length;
    } catch {
      processes = 0;
    }
  };
  count();
  const timer = setInterval(count, defaults.heartbeatCountMs);
  const sock: Socket = createSocket(isIP(opts.host) === 6 ? 'udp6' : 'udp4');
  sock.on('message', (msg, from) => {
    const nonce = decodePing(msg);
    if (!nonce) return;
    sock.send(
      encodePong({ nonce, node: opts.node, wallMs: Date.now(), processes, bootId }),
      from.port,
      from.address,
    );
  });
  sock.on('error', () => {}); // a send to a peer that went away: nothing to do
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(opts.port, opts.host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return {
    counted: (n) => {
      processes = n;
      givenAt = performance.now();
    },
    close: () => {
      clearInterval(timer);
      sock.close();
    },
  };
}

/**
 * Starts the responder in a worker thread (the bundled heartbeat-worker.js next to the
 * command), or on this thread when there is none (running from source).
 * @returns once it answers (`counted`: see Responder). @throws the bind error.
 */
export async function startResponder(
  opts: ResponderOptions,
): Promise<{ counted(processes: number): void; close(): Promise<void> }> {
  const script = join(__dirname, 'heartbeat-worker.js');
  if (!existsSync(script)) {
    const r = await respond(opts);
    return { counted: (n) => r.counted(n), close: () => Promise.resolve(r.close()) };
  }
  const worker = new Worker(script, { workerData: opts });
  worker.unref();
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ok?: boolean; error?: string }) =>
      m.ok ? resolve() : reject(Object.assign(new Error(m.error), { code: 'EADDRINUSE' })),
    );
    worker.once('error', reject);
  });
  return {
    counted: (processes) => worker.postMessage({ processes }),
    close: async () => void (await worker.terminate()),
  };
}
