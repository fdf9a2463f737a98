/**
 * The heartbeat thread of an agent (responder.ts): answers pings, and says once bound (or
 * why not); takes the process count the agent's table found (`{processes}` messages).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { respond, type ResponderOptions } from './responder';

const port = parentPort!;
respond(workerData as ResponderOptions).then(
  (responder) => {
    port.on('message', (m: { processes: number }) => responder.counted(m.processes));
    port.postMessage({ ok: true });
  },
  (err: Error) => port.postMessage({ error: err.message }),
);
