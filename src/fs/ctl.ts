/**
 * The grammar of `<gpid>/ctl` (spec section 4): one command per write, a trailing newline
 * allowed.
 *
 *   signal SIG          SIG by name, with or without "SIG", or by number
 *   SIG                 the same, shorter (`echo TERM > ctl`)
 *   kill | stop | cont  SIGKILL | SIGSTOP | SIGCONT
 *   signal-group SIG    SIG to every process of the global process group
 */
import { constants } from 'node:os';
import { defaults } from '../defaults';
import { parseSignal } from '../signals';
import { E, FsError } from './errno';

/** A parsed ctl command. */
export type CtlCommand = { verb: 'signal' | 'signal-group'; signal: number };

/**
 * Parses one write to ctl.
 * @param offset the file offset of the write: a command always starts at 0.
 * @throws FsError EINVAL for anything but one well-formed command at offset 0.
 */
export function parseCtl(data: Buffer, offset: number): CtlCommand {
  const bad = (why: string): never => {
    throw new FsError(E.EINVAL, why);
  };
  if (offset !== 0) bad(`a command is written at offset 0, not ${offset}`);
  const max = defaults.ctlCommandBytes;
  if (data.length === 0 || data.length > max) bad(`a command is 1..${max} bytes`);
  let text = data.toString('latin1');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (!/^[A-Za-z0-9+-]+( [A-Za-z0-9+-]+)?$/.test(text))
    bad(`malformed command ${JSON.stringify(text)}`);
  const [verb, arg] = text.split(' ');
  switch (verb) {
    case 'kill':
    case 'stop':
    case 'cont':
      if (arg !== undefined) bad(`${verb} takes no argument`);
      return {
        verb: 'signal',
        signal:
          constants.signals[verb === 'kill' ? 'SIGKILL' : verb === 'stop' ? 'SIGSTOP' : 'SIGCONT'],
      };
    case 'signal':
    case 'signal-group':
      if (arg === undefined) bad(`${verb} needs a signal`);
      try {
        return { verb, signal: parseSignal(arg) };
      } catch (err) {
        return bad((err as Error).message);
      }
    default:
      if (arg !== undefined) return bad(`unknown command ${JSON.stringify(verb)}`);
      try {
        return { verb: 'signal', signal: parseSignal(verb) };
      } catch {
        return bad(`unknown command ${JSON.stringify(verb)}`);
      }
  }
}
