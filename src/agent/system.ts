/**
 * Constants of the node that /proc does not state: clock ticks per second (USER_HZ) and
 * the page size, from getconf(1) once per process.
 */
import { execFileSync } from 'node:child_process';

let cached: { clockTicks: number; pageSize: number } | undefined;

/** USER_HZ (clock ticks per second) and the page size in bytes. */
export function systemConstants(): { clockTicks: number; pageSize: number } {
  if (!cached) {
    const get = (name: string, fallback: number) => {
      try {
        const n = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
        return Number.isInteger(n) && n > 0 ? n : fallback;
      } catch {
        return fallback;
      }
    };
    cached = { clockTicks: get('CLK_TCK', 100), pageSize: get('PAGESIZE', 4096) };
  }
  return cached;
}
