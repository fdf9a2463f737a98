// gproc run -t: the remote command gets a terminal, as `ssh -t` and `srun --pty` give one.
// Its stdin, stdout and stderr are a pseudo-terminal on the node (its controlling terminal,
// owned by the caller), of the caller's size; keys typed here reach it raw (one echo, the
// remote terminal's), ^C is the remote terminal's interrupt, and a resize here is a resize
// there (SIGWINCH). Checked as root and as an ordinary user; bad sizes and a terminal for a
// detached start are refused.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { GPROC, NOBODY, startCluster, waitFor } from './helpers/cluster';

const GPROC_SH = GPROC.map((a) => `'${a}'`).join(' ');

/** The host pids of `pid`'s descendants. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) =>
    (children.get(p) ?? []).forEach((c) => {
      out.push(c);
      walk(c);
    });
  walk(pid);
  return out;
}

/** gproc run under script(1): a real terminal here, `rows` x `cols`; its output collected. */
function underScript(
  env: NodeJS.ProcessEnv,
  rows: number,
  cols: number,
  args: string,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const cmd = `stty rows ${rows} cols ${cols}; exec ${GPROC_SH} run -t ${args}`;
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], {
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout.on('data', (c: Buffer) => (text += c.toString('latin1')));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => text, exited };
}

t.test('gproc run -t', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  const env = { ...process.env, GPROC_CONFIG: cluster.configPath, LINES: '33', COLUMNS: '101' };
  const gproc = (args: string[], uid?: number) => {
    const argv = [...GPROC, ...args];
    const cmd =
      uid === undefined
        ? argv
        : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv];
    return spawnSync(cmd[0], cmd.slice(1), {
      env,
      input: '',
      cwd: '/tmp',
      encoding: 'utf8',
      timeout: 30000,
    });
  };

  for (const uid of [undefined, NOBODY]) {
    const who = uid === undefined ? 'root' : 'an ordinary user';
    t.test(`${who}: the command's stdio is its controlling terminal`, async (t) => {
      const r = gproc(
        [
          'run',
          '-t',
          '--node',
          '2',
          '--',
          'sh',
          '-c',
          'tty; stty size; stat -c %u $(tty); test -t 0 && test -t 1 && test -t 2 && echo all-tty; ' +
            'ps -o tty= -p $$; echo to-stderr >&2; exit 3',
        ],
        uid,
      );
      const lines = r.stdout.split('\r\n');
      t.match(lines[0], /^\/dev\/pts\/\d+$/, `a pseudo-terminal: ${lines[0]}`);
      t.equal(lines[1], '33 101', 'of $LINES x $COLUMNS (no terminal here)');
      t.equal(lines[2], String(uid ?? 0), "owned by the caller's uid");
      t.equal(lines[3], 'all-tty', 'stdin, stdout and stderr are all the terminal');
      t.equal(lines[4], lines[0].replace('/dev/', ''), 'and it is the controlling terminal');
      t.equal(lines[5], 'to-stderr', "stderr comes through the terminal, as ssh -t's does");
      t.equal(r.stderr, '', 'nothing on our stderr');
      t.equal(r.status, 3, 'the exit status is mirrored');
    });
  }

  t.test('a real terminal here: its size, raw keys, ^C and a resize', async (t) => {
    const run = underScript(
      env,
      40,
      120,
      `--node 2 -- sh -c 'trap "stty size" WINCH; stty size; echo ready; read x; echo got=$x; ` +
        `while :; do sleep 0.1; done'`,
    );
    t.teardown(() => run.child.kill('SIGKILL'));
    await waitFor('ready', () => run.output().includes('ready') || undefined, 20000);
    t.match(run.output(), /^40 120\r$/m, "the remote terminal has our terminal's size");
    run.child.stdin!.write('hello\r');
    await waitFor('got', () => run.output().includes('got=hello') || undefined, 10000);
    t.equal(
      run.output().split('hello').length - 1,
      2,
      'typed once, echoed once (by the remote terminal: ours is raw), read once',
    );
    // Our terminal changes size: the kernel sends SIGWINCH to gproc, which resizes theirs.
    const gprocPid = descendants(run.child.pid!).find((p) =>
      readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('\0run\0'),
    );
    t.ok(gprocPid, 'gproc found under script');
    const tty = readlinkSync(`/proc/${gprocPid}/fd/0`);
    t.equal(
      spawnSync('stty', ['-F', tty, 'rows', '50', 'cols', '132']).status,
      0,
      `resized ${tty}`,
    );
    await waitFor('resized', () => /^50 132\r$/m.test(run.output()) || undefined, 10000);
    t.pass('the remote command saw the new size (its SIGWINCH trap printed it)');
    run.child.stdin!.write('\x03'); // ^C, raw: the remote terminal's interrupt character
    const code = await run.exited;
    t.equal(code, 130, 'the remote shell died of SIGINT from its terminal: 128 + 2');
  });

  t.test('refused: a bad size, a terminal for spawn, -t on several nodes', async (t) => {
    const client = cluster.node(2).client;
    const call = client.run();
    const err = await new Promise<{ code?: number; details?: string }>((resolve) => {
      call.on('error', resolve);
      call.on('data', () => undefined);
      call.write({ start: { argv: ['true'], env: [], cwd: '/', terminal: { rows: 0, cols: 80 } } });
    });
    t.equal(err.code, status.INVALID_ARGUMENT, `0 rows: ${err.details}`);
    const spawnErr = await client
      .spawn({ argv: ['true'], env: [], cwd: '/', terminal: { rows: 24, cols: 80 } })
      .then(
        () => undefined,
        (e: { code?: number; details?: string }) => e,
      );
    t.equal(spawnErr?.code, status.INVALID_ARGUMENT, `spawn with a terminal: ${spawnErr?.details}`);
    const many = gproc(['run', '-t', '--nodes', '1-2', '--', 'true']);
    t.equal(many.status, 1, 'gproc run -t --nodes: an error');
    t.match(many.stderr, /one node/, many.stderr.trim());
  });
});
