/** The heartbeat thread of an agent (responder.ts): answers pings, and says once bound (or why not). */
import { parentPort, workerData } from 'node:worker_threads';
import { respond, type ResponderOptions } from './responder';

const port = parentPort!;
respond(workerData as ResponderOptions).then(
  () => port.postMessage({ ok: true }),
  (err: Error) => port.postMessage({ error: err.message }),
);
