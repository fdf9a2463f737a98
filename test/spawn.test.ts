// Process operations across nodes. gproc run with streamed I/O, signals and exit
// statuses; spawn through nodes/<id>/spawn and wait through <gpid>/wait from another
// node's mount, restarted in between; global parents in pstree and psutil; validation.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { encodeGpid, PID_LIMIT } from '../src/gpid';
import { GPROC, GPROC_SH, startCluster, waitFor, NOBODY } from './helpers/cluster';
import { hex, inNode, inView, startMount, writeCases } from './helpers/mount';

t.test('process operations across nodes', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  const env = { ...process.env, GPROC_CONFIG: cluster.configPath };
  const gproc = (args: string[], opts: { input?: string | Buffer; uid?: number } = {}) => {
    const argv = [...GPROC, ...args];
    const cmd =
      opts.uid === undefined
        ? argv
        : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', ...argv];
    return spawnSync(cmd[0], cmd.slice(1), {
      env,
      input: opts.input,
      cwd: '/tmp',
      maxBuffer: 64 * 1024 * 1024,
    });
  };

  t.test('gproc run: both streams, the exit status, binary-safe stdin', async (t) => {
    const r = gproc(['run', '--node', '2', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    t.equal(r.stdout.toString(), 'out\n');
    t.equal(r.stderr.toString(), 'err\n');
    t.equal(r.status, 3, 'exits 3');
    const bytes = Buffer.from([0x61, 0, 0x62, 0xff, 0x0a, 0x00]);
    const cat = gproc(['run', '--node', '3', '--', 'cat'], { input: bytes });
    t.ok(cat.stdout.equals(bytes), 'a\\0b round-trips byte for byte');
    t.equal(cat.status, 0);
    const name = gproc(['run', '--node', 'n2', '--', 'sh', '-c', 'echo $GPROC_NODE $(pwd)']);
    t.equal(
      name.stdout.toString(),
      '2 /tmp\n',
      '--node takes a name; the working directory goes along',
    );
    const killed = gproc(['run', '--node', '2', '--', 'sh', '-c', 'kill -TERM $$']);
    t.equal(killed.status, 143, 'killed by SIGTERM: 128 + 15');
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    t.equal(
      gproc(['run', '--node', '3', '--', 'wc', '-c'], { input: big }).stdout.toString().trim(),
      String(big.length),
      '8 MiB of stdin',
    );
  });

  t.test('gproc run runs as the caller', async (t) => {
    const r = gproc(['run', '--node', '2', '--', 'id', '-u'], { uid: NOBODY });
    t.equal(r.stdout.toString(), `${NOBODY}\n`);
  });

  t.test('gproc run: validation errors exit as a shell does', async (t) => {
    const table: [string[], number, RegExp][] = [
      [['run', '--node', '2', '--', 'no-such-command'], 127, /no-such-command: command not found/],
      [['run', '--node', '2', '--', '/etc/passwd'], 126, /cannot execute/],
      [['run', '--node', '2', '--', ''], 127, /empty command|command not found/],
      [['run', '--node', '9', '--', 'true'], 1, /unknown node "9"/],
      [['run', '--node', 'nowhere', '--', 'true'], 1, /unknown node "nowhere"/],
    ];
    for (const [args, status, message] of table) {
      const r = gproc(args);
      t.equal(r.status, status, `${args.slice(3).join(' ') || '(empty)'}: exit ${status}`);
      t.match(r.stderr.toString(), message);
      t.equal(r.stderr.toString().trim().split('\n').length, 1, 'one line');
    }
    const cwd = spawnSync(GPROC[0], [...GPROC.slice(1), 'run', '--node', '2', '--', 'true'], {
      env,
      cwd: cluster.dir,
    });
    t.equal(cwd.status, 0, 'a directory that exists on the node is fine');
    const missing = spawnSync(
      'sh',
      [
        '-c',
        `mkdir -p /tmp/gone-$$ && cd /tmp/gone-$$ && rmdir /tmp/gone-$$ && ${GPROC_SH} run --node 2 -- true`,
      ],
      { env },
    );
    t.equal(missing.status, 1);
    t.match(missing.stderr.toString(), /working directory .* does not exist/);
  });

  t.test('Ctrl-C ends the remote process and exits 130', async (t) => {
    const child = spawn(
      GPROC[0],
      [...GPROC.slice(1), 'run', '--node', '3', '--', 'sleep', '1000'],
      { env, stdio: 'ignore' },
    );
    const mount = await startMount(t, cluster, { node: 1 });
    const remote = await waitFor('the remote sleep', () => {
      const ps = inView(mount, ['ps', '-eo', 'pid=,comm=,args=']).stdout;
      const line = ps
        .split('\n')
        .find((l) => l.includes('sleep 1000') && l.trim().startsWith('1258'));
      return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
    });
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    t.equal(code, 130);
    await waitFor(
      'the remote sleep gone',
      () => !existsSync(`${mount.mountPoint}/${remote}/stat`) || undefined,
      4000,
    );
    t.pass('gone on node 3');
  });

  t.test('1 GiB through gproc run -- cat: no stall, bounded memory', async (t) => {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `head -c 1073741824 /dev/zero | /usr/bin/time -f '%M' ${GPROC_SH} run --node 2 -- cat | wc -c`,
      ],
      { env, encoding: 'utf8', timeout: 120000 },
    );
    t.equal(r.stdout.trim(), '1073741824', 'every byte arrived');
    const maxRssKb = Number(r.stderr.trim().split('\n').pop());
    t.ok(maxRssKb < 300 * 1024, `gproc run's peak memory ${Math.round(maxRssKb / 1024)} MiB`);
    const agent = cluster.node(2).agentPid()!;
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${agent}/status`, 'utf8'))![1]);
    t.ok(hwm < 400 * 1024, `the agent's peak memory ${Math.round(hwm / 1024)} MiB`);
  });

  t.test("spawn on node 3, wait from node 2's mount restarted in between", async (t) => {
    const m1 = await startMount(t, cluster, { node: 1 });
    const spawnFile = `${m1.mountPoint}/nodes/3/spawn`;
    // It ends when the test says (a file appears in node 3), not after a time: starting and
    // stopping mounts on a loaded machine can take longer than any fixed sleep.
    const go = `/tmp/gproc-go-${process.pid}`;
    const r = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${spawnFile}; echo 'while [ ! -e ${go} ]; do sleep 0.1; done; exit 7' >&3; read g <&3; echo $g`,
      ],
      { encoding: 'utf8' },
    );
    t.equal(r.stderr, '');
    const gpid = Number(r.stdout.trim());
    t.equal(Math.floor(gpid / PID_LIMIT), 3, `the answer is a gpid of node 3 (${gpid})`);
    let m2 = await startMount(t, cluster, { node: 2 });
    await m2.stop();
    m1.process.kill('SIGINT');
    m2 = await startMount(t, cluster, { node: 2, mountPoint: m2.mountPoint });
    const reader = spawn('cat', [`${m2.mountPoint}/${gpid}/wait`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const readerExit = new Promise((done) => reader.once('exit', done));
    let wait = '';
    reader.stdout.on('data', (d) => (wait += d));
    await new Promise((done) => setTimeout(done, 500));
    t.equal(reader.exitCode, null, 'the read blocks while the process runs');
    inNode(cluster.node(3), ['touch', go]);
    t.equal(await readerExit, 0);
    t.equal(wait, 'exited 7\n', 'the restarted mount reads its status once it ended');
    inNode(cluster.node(3), ['rm', '-f', go]);
    t.equal(readFileSync(`${m2.mountPoint}/${gpid}/wait`, 'utf8'), 'exited 7\n', 'and again');

    const both = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${m2.mountPoint}/nodes/1/spawn; printf 'true\\nexit 3\\n' >&3; read a <&3; read b <&3; echo $a $b`,
      ],
      { encoding: 'utf8' },
    );
    t.match(both.stdout, /^\d+ \d+\n$/, 'two answers to one write, read with two reads');
    const twice = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${m2.mountPoint}/nodes/1/spawn; echo 'exit 0' >&3; read a <&3; echo 'kill -KILL $$' >&3; read b <&3; echo $a $b`,
      ],
      { encoding: 'utf8' },
    );
    const [a, b] = twice.stdout.trim().split(' ').map(Number);
    t.ok(a > PID_LIMIT && b > PID_LIMIT && a !== b, 'two commands on one handle, two gpids');
    t.equal(readFileSync(`${m2.mountPoint}/${b}/wait`, 'utf8'), 'killed SIGKILL\n');
    const w = spawnSync(GPROC[0], [...GPROC.slice(1), 'wait', String(b)], {
      env,
      encoding: 'utf8',
    });
    t.equal(w.stdout, 'killed SIGKILL\n', 'gproc wait prints the same');
    t.equal(w.status, 137, 'and exits 128 + 9');
  });

  t.test('a wait longer than the 15 s FUSE operation timeout', async (t) => {
    const m = await startMount(t, cluster, { node: 1 });
    const r = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${m.mountPoint}/nodes/2/spawn; echo 'sleep 17; exit 4' >&3; read g <&3; cat ${m.mountPoint}/$g/wait`,
      ],
      { encoding: 'utf8', timeout: 60000 },
    );
    t.equal(r.stdout, 'exited 4\n');
    t.equal(r.stderr, '');
  });

  t.test('spawn file validation', async (t) => {
    const m = await startMount(t, cluster, { node: 1 });
    const write = (node: number, text: string) =>
      writeCases(`${m.mountPoint}/nodes/${node}/spawn`, { w: { hex: hex(text) } }).w;
    t.equal(write(2, '\n'), 'EINVAL', 'an empty line: EINVAL');
    t.equal(write(2, '   \n'), 'EINVAL', 'blanks: EINVAL');
    t.equal(write(2, 'a\0b\n'), 'EINVAL', 'a NUL byte: EINVAL');
    t.equal(write(9, 'true\n'), 'ENOENT', 'an unknown node: ENOENT');
    t.equal(write(2, 'true\n'), 'ok', 'a good line');
    const nobody = spawnSync(
      'setpriv',
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        'sh',
        '-c',
        `echo true > ${m.mountPoint}/nodes/2/spawn`,
      ],
      { encoding: 'utf8' },
    );
    t.match(nobody.stderr, /Permission denied/, 'spawn runs commands as root: root only');
  });

  t.test('global parents: pstree and psutil show the cross-node tree', async (t) => {
    const m = await startMount(t, cluster, { node: 1 });
    // A shell on node 1 runs a sleep on node 2 and one on node 3.
    const run = (n: number) =>
      `env GPROC_NODE=1 GPROC_CONFIG=${cluster.configPath} ${GPROC_SH} run --node ${n} -- sleep 1000`;
    const r = inNode(cluster.node(1), [
      'sh',
      '-c',
      `setsid sh -c '${run(2)} & ${run(3)} & wait' </dev/null >/dev/null 2>&1 & echo $!`,
    ]);
    const shell = encodeGpid(1, Number(r.stdout.trim()));
    const tree = await waitFor('the cross-node tree', () => {
      const out = inView(m, ['pstree', '-p', '-A', String(shell)]).stdout;
      return /\(8\d{6}\)/.test(out) && /\(12\d{6}\)/.test(out) ? out : undefined;
    });
    t.match(
      tree,
      /node\(\d+\)-[+-]-sleep\(8\d{6}\)/,
      'the sleep on node 2 under its gproc run on node 1',
    );
    t.match(tree, /node\(\d+\)-[+-]-sleep\(12\d{6}\)/, 'and the one on node 3');
    const py =
      'import psutil, sys; p = psutil.Process(int(sys.argv[1])); print(sorted(c.pid // 2**22 for c in p.children(recursive=True)))';
    const kids = inView(m, ['/usr/bin/python3', '-c', py, String(shell)]);
    t.equal(
      kids.stdout.trim(),
      '[1, 1, 2, 3]',
      'psutil children(): two gproc run on node 1, a sleep on nodes 2 and 3',
    );
    inView(m, ['sh', '-c', `echo 'signal-group KILL' > /proc/${shell}/ctl`]);
  });
});

t.test('events: one line per process start and exit, as they happen', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  const m = await startMount(t, cluster, { node: 1 });
  // Read the events file until a spawned process's start and exit went by. Reads block
  // until there is an event, so a ticker keeps starting short processes on node 1.
  const reader = spawn(
    '/usr/bin/python3',
    [
      '-c',
      [
        'import sys, time',
        'seen = []',
        'with open(sys.argv[1], "r") as f:',
        '    for line in f:',
        '        seen.append(line)',
        '        if " exit " in line and "exited 7" in line: break',
        'sys.stdout.write("".join(seen))',
      ].join('\n'),
      `${m.mountPoint}/events`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  reader.stdout.on('data', (d) => (output += d));
  await new Promise((r) => setTimeout(r, 500));
  const spawnRun = spawnSync(
    'bash',
    [
      '-c',
      `exec 3<>${m.mountPoint}/nodes/2/spawn; echo 'sleep 0.5; exit 7' >&3; read g <&3; echo $g`,
    ],
    { encoding: 'utf8' },
  );
  const gpid = Number(spawnRun.stdout.trim());
  const ticker = setInterval(
    () => inNode(cluster.node(1), ['sh', '-c', 'sleep 0.5 </dev/null >/dev/null 2>&1 &']),
    300,
  );
  const code = await Promise.race([
    new Promise((r) => reader.once('exit', r)),
    new Promise((r) => setTimeout(() => r('timeout'), 15000)),
  ]);
  clearInterval(ticker);
  t.equal(code, 0, 'the reader saw the exit');
  const lines = output.trim().split('\n');
  const start = lines.find((l) => l.split(' ')[1] === 'start' && Number(l.split(' ')[2]) === gpid);
  t.ok(start, `a start line for ${gpid}`);
  t.match(
    start ?? '',
    new RegExp(`^\\d{13} start ${gpid} \\d+ (sh|sleep)$`),
    'time, kind, gpid, parent gpid, comm',
  );
  const exit = lines.find((l) => l.split(' ')[1] === 'exit' && Number(l.split(' ')[2]) === gpid);
  t.match(
    exit ?? '',
    new RegExp(`^\\d{13} exit ${gpid} exited 7$`),
    'its exit, with the status its agent holds',
  );
  t.ok(
    lines.every((l) =>
      /^\d{13} (start \d+ -?\d+ .*|exit \d+ (exited \d+|killed SIG\w+|gone))$/.test(l),
    ),
    'every line in the format',
  );

  // Small reads and seeks lose nothing: 20-byte reads, and bash's read (a chunk, then a
  // seek back to the end of the line it took), side by side.
  const chunked = spawn(
    '/usr/bin/python3',
    [
      '-c',
      [
        'import os, sys',
        'fd, text = os.open(sys.argv[1], os.O_RDONLY), b""',
        'while text.count(b"\\n") < 30: text += os.read(fd, 20)',
        'sys.stdout.write(text.decode("latin1"))',
      ].join('\n'),
      `${m.mountPoint}/events`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let chunks = '';
  chunked.stdout.on('data', (d) => (chunks += d));
  await new Promise((r) => setTimeout(r, 300));
  const ticker2 = setInterval(
    () => inNode(cluster.node(1), ['sh', '-c', 'sleep 0.2 </dev/null >/dev/null 2>&1 &']),
    100,
  );
  const bash = spawn(
    'bash',
    [
      '-c',
      `n=0; while read -r l; do echo "$l"; n=$((n+1)); [ $n -ge 10 ] && break; done < ${m.mountPoint}/events`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let bashOut = '';
  bash.stdout.on('data', (d) => (bashOut += d));
  // Both end by themselves as events keep coming (a read blocked in the view cannot be interrupted).
  const ended = (p: ReturnType<typeof spawn>) =>
    new Promise((r) => (p.exitCode !== null ? r(0) : p.once('exit', r)));
  await Promise.race([
    Promise.all([ended(chunked), ended(bash)]),
    new Promise((r) => setTimeout(r, 20000)),
  ]);
  clearInterval(ticker2);
  const whole = chunks.trim().split('\n');
  t.ok(
    whole.every((l) => /^\d{13} (start|exit) \d+ /.test(l)),
    'read 20 bytes at a time, every line is whole',
  );
  const read = bashOut.trim().split('\n');
  t.equal(read.length, 10, 'bash read 10 lines');
  const at = whole.indexOf(read[0]);
  t.same(
    whole.slice(at, at + read.length),
    read,
    "bash's lines are consecutive events, none skipped",
  );
});
