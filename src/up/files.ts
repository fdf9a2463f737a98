/**
 * Where a `gproc up` keeps its files: /run/gproc/up for the default mount point,
 * /run/gproc/up/<key> for another. Read by `up` itself and by commands that look for a
 * running `up` (config.ts).
 */
import { resolve } from 'node:path';
import { defaults } from '../defaults';

/** Files of an `up`: its cluster file, the agents' logs (in `dir`), and the PIDs it started. */
export interface UpFiles {
  dir: string;
  /** Present while the `up` runs: its own PID, then those it started, one per line. */
  pids: string;
  config: string;
}

export function upFiles(mountPoint: string = defaults.mountPoint): UpFiles {
  const abs = resolve(mountPoint);
  const dir =
    abs === defaults.mountPoint
      ? defaults.upDir
      : `${defaults.upDir}/${abs.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_')}`;
  return { dir, pids: `${dir}/pids`, config: `${dir}/cluster.json` };
}
