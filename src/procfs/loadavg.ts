/**
 * /proc/loadavg (proc(5)): three load averages (1, 5, 15 min), `running/total` scheduling
 * entities, and the most recently created PID.
 */
import { ProcParseError } from './errors';

export interface LoadAvg {
  /** Load averages over 1, 5 and 15 minutes. */
  load: [number, number, number];
  running: number;
  total: number;
  lastPid: number;
}

/** @throws ProcParseError when the line does not have the five proc(5) fields. */
export function parseLoadAvg(content: Buffer | string, file = 'loadavg'): LoadAvg {
  const text = content.toString().trim();
  const m = /^(\d+\.\d+) (\d+\.\d+) (\d+\.\d+) (\d+)\/(\d+) (\d+)$/.exec(text);
  if (!m) throw new ProcParseError(file, 1, `not a loadavg line: ${JSON.stringify(text)}`);
  return {
    load: [Number(m[1]), Number(m[2]), Number(m[3])],
    running: Number(m[4]),
    total: Number(m[5]),
    lastPid: Number(m[6]),
  };
}

export function formatLoadAvg(l: LoadAvg): string {
  return `${l.load.map((v) => v.toFixed(2)).join(' ')} ${l.running}/${l.total} ${l.lastPid}\n`;
}
