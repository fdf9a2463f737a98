/** /proc/uptime (proc(5)): seconds since boot and idle seconds summed over CPUs. */
import { ProcParseError } from './errors';

export interface Uptime {
  /** Seconds since boot. */
  uptime: number;
  /** Seconds all CPUs spent idle, summed. */
  idle: number;
}

/** @throws ProcParseError when the file is not two decimal numbers. */
export function parseUptime(content: Buffer | string, file = 'uptime'): Uptime {
  const text = content.toString().trim();
  const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(text);
  if (!m) throw new ProcParseError(file, 1, `expected "uptime idle", got ${JSON.stringify(text)}`);
  return { uptime: Number(m[1]), idle: Number(m[2]) };
}

/** Writes /proc/uptime the way the kernel does: two numbers with two decimals. */
export function formatUptime(u: Uptime): string {
  return `${u.uptime.toFixed(2)} ${u.idle.toFixed(2)}\n`;
}
