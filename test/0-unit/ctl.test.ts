// The grammar of <gpid>/ctl (src/fs/ctl.ts parseCtl): want/have per write. No root, no FUSE.
import t from 'tap';
import { constants } from 'node:os';
import { parseCtl } from '../../src/fs/ctl';
import { E, FsError } from '../../src/fs/errno';

const S = constants.signals;

/** The command a write parses to, or its errno. */
function have(data: string | Buffer, offset = 0): unknown {
  try {
    return parseCtl(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, offset);
  } catch (err) {
    return err instanceof FsError ? `errno ${err.errno}` : String(err);
  }
}

const signal = (n: number) => ({ verb: 'signal', signal: n });
const group = (n: number) => ({ verb: 'signal-group', signal: n });
const EINVAL = `errno ${E.EINVAL}`;

const cases: [string | Buffer, unknown, number?][] = [
  ['signal SIGTERM\n', signal(S.SIGTERM)],
  ['signal TERM', signal(S.SIGTERM)],
  ['signal 9\n', signal(9)],
  ['signal 0', signal(0)],
  ['signal term', signal(S.SIGTERM)],
  ['TERM\n', signal(S.SIGTERM)],
  ['SIGUSR1', signal(S.SIGUSR1)],
  ['15', signal(15)],
  ['kill\n', signal(S.SIGKILL)],
  ['stop', signal(S.SIGSTOP)],
  ['cont\n', signal(S.SIGCONT)],
  ['signal-group SIGVTALRM\n', group(S.SIGVTALRM)],
  ['signal-group HUP', group(S.SIGHUP)],
  // Malformed: each is EINVAL.
  ['', EINVAL],
  ['\n', EINVAL],
  ['kill\n\n', EINVAL],
  ['kill 9', EINVAL],
  ['signal', EINVAL],
  ['signal-group', EINVAL],
  ['signal SIGNOPE', EINVAL],
  ['signal 999', EINVAL],
  ['signal  TERM', EINVAL],
  [' TERM', EINVAL],
  ['signal TERM extra', EINVAL],
  ['reboot', EINVAL],
  ['frobnicate now', EINVAL],
  ['signal\tTERM', EINVAL],
  ['TERM\r\n', EINVAL],
  ['signal TERM\0', EINVAL],
  [`signal ${'A'.repeat(60)}`, EINVAL],
  [Buffer.from('signal T\u00c9RM', 'utf8'), EINVAL],
  // A command is written at offset 0.
  ['TERM', EINVAL, 4],
];

t.test('parseCtl: want/have per write', async (t) => {
  for (const [data, want, offset] of cases)
    t.same(
      have(data, offset),
      want,
      `${JSON.stringify(data.toString())}${offset ? ` at ${offset}` : ''}`,
    );
});
