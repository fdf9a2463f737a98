// gproc run --nodes: one command on several nodes at once, as pdsh and srun -N run it.
// Output in whole lines (labelled with -l), stdin to every node, the worst exit status, and
// a frozen node reported and left behind rather than waited for.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { GPROC, startCluster, waitFor, NOBODY } from './helpers/cluster';

t.test('gproc run on several nodes', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  const env = { ...process.env, GPROC_CONFIG: cluster.configPath };
  const gproc = (args: string[], opts: { input?: string; uid?: number } = {}) => {
    const argv = [...GPROC, ...args];
    const cmd =
      opts.uid === undefined
        ? argv
        : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', ...argv];
    return spawnSync(cmd[0], cmd.slice(1), {
      env,
      input: opts.input ?? '',
      cwd: '/tmp',
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60000,
    });
  };
  const sorted = (text: string) => text.split('\n').filter(Boolean).sort();

  t.test('labels, both streams, the worst exit status', async (t) => {
    const r = gproc([
      'run',
      '--nodes',
      '1-3',
      '-l',
      '--',
      'sh',
      '-c',
      'echo out $GPROC_NODE; echo err >&2; exit $GPROC_NODE',
    ]);
    t.same(sorted(r.stdout), ['n1: out 1', 'n2: out 2', 'n3: out 3']);
    t.same(sorted(r.stderr), ['n1: err', 'n2: err', 'n3: err']);
    t.equal(r.status, 3, 'exits with the highest status of the three');
    const ok = gproc(['run', '--nodes', 'all', '--', 'true']);
    t.equal(ok.status, 0, 'all nodes exit 0: 0');
    t.equal(ok.stdout + ok.stderr, '', 'and nothing is printed');
  });

  t.test('stdin goes to every node; names and ids mix; each node once', async (t) => {
    const r = gproc(['run', '--nodes', 'n1,3,1', '-l', '--', 'cat'], { input: 'hello\nworld' });
    t.same(sorted(r.stdout), ['n1: hello', 'n1: world', 'n3: hello', 'n3: world']);
    t.equal(r.status, 0);
  });

  t.test('lines of different nodes never mix', async (t) => {
    const lines = 3000;
    const r = gproc([
      'run',
      '--nodes',
      'all',
      '--',
      'awk',
      `BEGIN { for (i = 0; i < ${lines}; i++) printf "node%s-%0120d\\n", ENVIRON["GPROC_NODE"], i }`,
    ]);
    t.equal(r.status, 0);
    const out = r.stdout.split('\n').filter(Boolean);
    t.equal(out.length, 3 * lines, 'every line arrives');
    const bad = out.filter((l) => !/^node[123]-\d{120}$/.test(l));
    t.same(bad.slice(0, 3), [], "each line is one node's whole line");
    for (const id of [1, 2, 3]) {
      const mine = out.filter((l) => l.startsWith(`node${id}-`)).map((l) => Number(l.slice(6)));
      t.same(
        mine,
        Array.from({ length: lines }, (_, i) => i),
        `node ${id}'s lines in their order`,
      );
    }
  });

  t.test('as an ordinary user, everywhere', async (t) => {
    const r = gproc(['run', '--nodes', 'all', '-l', '--', 'id', '-u'], { uid: NOBODY });
    t.same(sorted(r.stdout), ['n1: 65534', 'n2: 65534', 'n3: 65534']);
    t.equal(r.status, 0);
  });

  t.test('a last line without its newline is given one', async (t) => {
    const r = gproc(['run', '--nodes', '2', '-l', '--', 'printf', 'abc']);
    t.equal(r.stdout, 'n2: abc\n');
  });

  t.test('stdin keeps flowing to the others after one node has finished', async (t) => {
    // More than the streams' buffers hold: the node that left must not hold the rest up.
    const bytes = 32 * 1024 * 1024;
    const start = performance.now();
    const r = spawnSync(
      GPROC[0],
      [
        ...GPROC.slice(1),
        ...['run', '--nodes', 'all', '-l', '--', 'sh', '-c'],
        '[ "$GPROC_NODE" = 1 ] && exit 0; wc -c',
      ],
      { env, input: Buffer.alloc(bytes, 'x'), encoding: 'utf8', timeout: 30000 },
    );
    const ms = performance.now() - start;
    t.ok(ms < 25000, `done before the 30 s bound (${ms.toFixed(0)} ms)`);
    t.same(sorted(r.stdout), [`n2: ${bytes}`, `n3: ${bytes}`], 'nodes 2 and 3 read all of it');
    t.equal(r.status, 0);
  });

  t.test("each node's error is printed after the node's name", async (t) => {
    const r = gproc(['run', '--nodes', '1,2', '-l', '--', 'gproc-no-such-command']);
    t.same(sorted(r.stderr), [
      'gproc: n1: gproc-no-such-command: command not found',
      'gproc: n2: gproc-no-such-command: command not found',
    ]);
    t.equal(r.status, 127);
  });

  t.test('a reader that leaves: quiet exit 141, every remote process ends', async (t) => {
    const marker = `gproc-run-many-reader-${process.pid}`;
    const child = spawn(
      GPROC[0],
      [...GPROC.slice(1), 'run', '--nodes', 'all', '--', 'yes', marker],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Read the first output, then go away as `| head -1` does.
    await new Promise((r) => child.stdout.once('data', r));
    child.stdout.destroy();
    const start = performance.now();
    const status = await new Promise<number | null>((r) => child.once('exit', r));
    const ms = performance.now() - start;
    t.equal(status, 141, 'exit 141, as a process killed by SIGPIPE');
    t.ok(ms < 5000, `promptly (${ms.toFixed(0)} ms)`);
    t.equal(stderr, '', 'nothing on stderr: the cancelled calls are ours');
    const ended = await waitFor(
      'the remote yes processes to end',
      () => spawnSync('pgrep', ['-f', marker]).status === 1,
      10000,
    ).then(
      () => true,
      () => false,
    );
    t.ok(ended, 'every remote yes ends within 10 s');
  });

  t.test('bad node lists are refused before anything runs', async (t) => {
    const table: [string[], RegExp][] = [
      [['--nodes', '1-9'], /unknown node "4"/],
      [['--nodes', '3-1'], /from low to high/],
      [['--nodes', '1,,2'], /empty item/],
      [['--nodes', '1', '--node', '2'], /one of --node N or --nodes LIST/],
      [[], /one of --node N or --nodes LIST/],
    ];
    rmSync('/tmp/gproc-run-many-ran', { force: true });
    for (const [opts, message] of table) {
      const r = gproc(['run', ...opts, '--', 'touch', '/tmp/gproc-run-many-ran']);
      t.equal(r.status, 1, `${opts.join(' ') || '(no node)'}: exit 1`);
      t.match(r.stderr, message);
    }
    t.notOk(existsSync('/tmp/gproc-run-many-ran'), 'the command ran nowhere');
  });

  t.test('a frozen node is reported and the others finish', async (t) => {
    const agent = cluster.nodes[2].agentPid()!;
    process.kill(agent, 'SIGSTOP');
    t.teardown(() => process.kill(agent, 'SIGCONT'));
    const start = performance.now();
    const child = spawn(
      GPROC[0],
      [...GPROC.slice(1), 'run', '--nodes', 'all', '-l', '--', 'echo', 'hi'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const status = await new Promise<number | null>((r) => child.once('exit', r));
    const ms = performance.now() - start;
    t.same(sorted(stdout), ['n1: hi', 'n2: hi'], 'the two that answer run it');
    t.match(stderr, /node 3 .*(does not answer|stopped answering)/, 'node 3 is named');
    t.equal(status, 255, 'exit 255, as ssh for a node that does not answer');
    t.ok(ms < 10000, `within the start deadline (${ms.toFixed(0)} ms)`);
  });
});
