/**
 * Logging through pino: one JSON line per event on stderr, so stdout stays free for
 * command output. `GPROC_LOG_LEVEL` sets the level (default "info").
 */
import pino from 'pino';

export type Logger = pino.Logger;

/**
 * A logger for one component ("agent", "mount"), with fixed fields such as the node id.
 * @param level default level; $GPROC_LOG_LEVEL wins. Commands pass "silent": they report
 *   to the user in their own words.
 */
export function createLogger(
  component: string,
  fields: Record<string, unknown> = {},
  level = 'info',
): Logger {
  return pino(
    {
      name: `gproc-${component}`,
      level: process.env.GPROC_LOG_LEVEL ?? level,
      // `daemon`, not pino's usual `pid`: many lines carry the pid of a process they are about.
      base: { daemon: process.pid, ...fields },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
