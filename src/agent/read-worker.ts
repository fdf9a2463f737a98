/**
 * Worker thread of the snapshot reader pool: reads the processes it is sent from the
 * /proc tree it was started on, with the same code as the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readProcesses } from '../procfs/read';

const { procRoot } = workerData as { procRoot: string };

parentPort!.on('message', (pids: number[]) =>
  parentPort!.postMessage(readProcesses(procRoot, pids)),
);
