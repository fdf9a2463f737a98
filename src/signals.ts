/**
 * Signal names and numbers (signal(7)), taken from Node's `os.constants.signals` rather than
 * a table of our own. Real-time signals are not offered.
 */
import { constants } from 'node:os';

const byName: Readonly<Record<string, number>> = constants.signals;
const byNumber = new Map<number, string>();
for (const [name, num] of Object.entries(byName)) {
  // The first name wins: SIGABRT before its alias SIGIOT, SIGIO before SIGPOLL.
  if (!byNumber.has(num)) byNumber.set(num, name);
}

/** A signal that is not known; `message` is one line for the user. */
export class SignalError extends Error {
  override name = 'SignalError';
}

/**
 * Parses a signal as users write it: a name with or without "SIG" in any case
 * ("TERM", "sigterm"), or a number ("15"). 0 is accepted: it only checks the target.
 * @returns the signal number.
 * @throws SignalError for anything else ("signal 999", "FOO").
 */
export function parseSignal(text: string): number {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const num = Number(s);
    if (num === 0 || byNumber.has(num)) return num;
    throw new SignalError(`unknown signal number ${s}`);
  }
  const upper = s.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const num = byName[name];
  if (num === undefined || !/^[A-Z0-9]+$/.test(upper))
    throw new SignalError(`unknown signal "${text}"`);
  return num;
}

/** The name of a signal number ("SIGTERM"), or "SIG<n>" for a number without one. */
export function signalName(num: number): string {
  return byNumber.get(num) ?? `SIG${num}`;
}

/** The number of a signal name as Node reports it for a killed child ("SIGTERM" -> 15). */
export function signalNumber(name: string): number | undefined {
  return byName[name];
}

/** The signals a terminal or a job control sends to end a command (signal(7)); gproc's commands pass them on or stop on them. */
export const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
