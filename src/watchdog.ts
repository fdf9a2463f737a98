/**
 * A bound on leaving that does not need the main thread. A daemon bounds its close with a
 * timer, but a timer runs on the main thread, and that thread can be stuck in the kernel:
 * starting a command (fusermount, umount) waits in spawn until the child has exec'd, and a
 * child that cannot exec (its PATH search or its binary on a file system that does not
 * answer) holds the parent there for as long. This timer runs on a worker thread of its
 * own, which sends the process SIGKILL when it fires: a thread blocked in a sleeping system
 * call does not stop that. The worker starts only when the bound is armed (about 10 MB
 * while it runs), so a daemon pays nothing for it until it is on its way out.
 */
import { Worker } from 'node:worker_threads';

/**
 * The worker's code (plain JavaScript, run with `eval`: no file of its own to ship). One
 * timer; then one log line on stderr in the daemon's JSON format, saying where the main
 * thread and the commands it started wait (state, wchan and the top of the kernel stack,
 * /proc/<pid>/task/<tid>/stack, which root can read: daemons run as root); then SIGKILL.
 */
const WATCHDOG = String.raw`
const { workerData } = require('node:worker_threads');
const { readdirSync, readFileSync, writeSync } = require('node:fs');
const read = (path) => {
  try {
    return readFileSync(path, 'latin1').trim();
  } catch {
    return '';
  }
};
const waiting = (task) => ({
  state: read(task + '/stat').replace(/^.*\) /s, '').split(' ')[0],
  wchan: read(task + '/wchan'),
  stack: read(task + '/stack')
    .split('\n')
    .filter(Boolean)
    .slice(0, 8)
    .map((frame) => frame.replace(/^\[<[0-9a-f]+>\] /, '')),
});
setTimeout(() => {
  const self = '/proc/' + process.pid;
  let children = [];
  try {
    for (const tid of readdirSync(self + '/task'))
      children = children.concat(read(self + '/task/' + tid + '/children').split(' ').filter(Boolean));
  } catch {}
  const line = {
    level: 50,
    time: Date.now(),
    ...workerData.fields,
    mainThread: waiting(self + '/task/' + process.pid),
    children: children.map((pid) => ({
      pid: Number(pid),
      cmd: read('/proc/' + pid + '/cmdline').split('\0').join(' ').trim(),
      ...waiting('/proc/' + pid),
    })),
    msg: workerData.msg,
  };
  try {
    writeSync(2, JSON.stringify(line) + '\n');
  } finally {
    process.kill(process.pid, 'SIGKILL');
  }
}, workerData.ms);
`;

/**
 * Sends this process SIGKILL `ms` milliseconds from now, whatever its main thread is doing,
 * after logging `msg` on stderr (error level, with `fields`: the logger's fixed fields, and
 * where the main thread and its children wait). Nothing stops it: arm it only on the way
 * out, past the daemon's own bound.
 */
export function killAfter(ms: number, msg: string, fields: Record<string, unknown>): void {
  const worker = new Worker(WATCHDOG, { eval: true, workerData: { ms, msg, fields } });
  // It must not keep a daemon alive that has finished; it must not be stopped by one that has not.
  worker.unref();
}
