/**
 * How a process ended, as the wire carries it (a oneof of code, signal, gone), in the words
 * of spec section 5 and as a shell exit status.
 */
import type { ExitStatus__Output } from './proto/gen/gproc/v1/ExitStatus';
import { signalNumber } from './signals';

/** An exit status as decoded from the wire (`outcome` names the field present). */
export type WireExit = ExitStatus__Output;

/** "exited N", "killed SIGNAME" or "gone". */
export function describeExit(st: WireExit): string {
  if (st.outcome === 'code') return `exited ${st.code}`;
  if (st.outcome === 'signal') return `killed ${st.signal}`;
  return 'gone';
}

/** The status a shell would report: N, 128 + signal number when killed, 127 when gone. */
export function shellStatus(st: WireExit): number {
  if (st.outcome === 'code') return st.code ?? 0;
  if (st.outcome === 'signal') return killedStatus(st.signal ?? '');
  return 127;
}

/** The status a shell reports for a process killed by `signal` (a name): 128 + its number. */
export function killedStatus(signal: string): number {
  return 128 + (signalNumber(signal) ?? 0);
}
