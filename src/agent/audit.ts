/**
 * The agent's audit log (spec section 7): one JSON line per signal, spawn and run, and per
 * refusal (a connection or call refused, a uid the caller may not act for, a node that
 * does not admit the caller), apart from the debug log. Each line has `time` (ms since the
 * epoch), `action`, and, where known, the `node` that asked (from its certificate, or this
 * node for local callers), the `uid` it acts for, how that was proven (`via`), the target
 * or command, and the `result`.
 */
import pino from 'pino';

export interface AuditRecord {
  action: 'signal' | 'spawn' | 'run' | 'refused';
  /** The node the request comes from, as its certificate or credential proves. */
  node?: number;
  uid?: number;
  via?: string;
  /** The peer in a few words, when no node and uid are known. */
  peer?: string;
  method?: string;
  target?: number;
  starttime?: number;
  signal?: string;
  command?: string[];
  pid?: number;
  result?: string;
  reason?: string;
}

export interface Audit {
  record(rec: AuditRecord): void;
  /** A refused connection or call. */
  refusal(rec: Omit<AuditRecord, 'action' | 'result'>): void;
  close(): void;
}

/**
 * An audit log appending to `path` (its directory made, the file mode 0600).
 */
export function createAudit(path: string): Audit {
  // pino's destination (sonic-boom) appends whole lines; the lines are plain JSON records.
  const dest = pino.destination({ dest: path, mkdir: true, sync: true, mode: 0o600 });
  const write = (rec: object) => dest.write(`${JSON.stringify({ time: Date.now(), ...rec })}\n`);
  return {
    record: write,
    refusal: (rec) => write({ action: 'refused', result: 'refused', ...rec }),
    close: () => dest.flushSync(),
  };
}
