/**
 * Logging through pino: one JSON line per event on stderr, so stdout stays free for
 * command output. `GPROC_LOG_LEVEL` sets the level (default "info").
 */
import pino from 'pino';

export type Logger = pino.Logger;

/** A logger for one component ("agent", "mount"), with fixed fields such as the node id. */
export function createLogger(component: string, fields: Record<string, unknown> = {}): Logger {
  return pino(
    { name: `gproc-${component}`, level: process.env.GPROC_LOG_LEVEL ?? 'info', base: { pid: process.pid, ...fields } },
    pino.destination({ fd: 2, sync: true }),
  );
}
