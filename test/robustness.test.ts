// Bad input and dead nodes (found by trying to break it): no crash, no hang, no escalation,
// clear errors. Each case names what went wrong before it was fixed.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { GPROC, GPROC_SH, REPO, startCluster, waitFor, NOBODY, asUser } from './helpers/cluster';
import { hex, inNode, startMount, writeCases } from './helpers/mount';

t.test('robustness', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  const env = { ...process.env, GPROC_CONFIG: cluster.configPath };
  const gproc = (args: string[], opts: { input?: string; timeout?: number } = {}) =>
    spawnSync(GPROC[0], [...GPROC.slice(1), ...args], {
      env,
      encoding: 'utf8',
      input: opts.input,
      timeout: opts.timeout ?? 30000,
    });
  const mount = await startMount(t, cluster, { node: 1 });
  const agentsAlive = async (t: Test) => {
    for (const n of cluster.nodes) t.ok(await n.client.nodeInfo(), `agent ${n.id} answers`);
  };

  t.test(
    'signal-group to a process in group 0 signals nothing (it used to kill every agent)',
    async (t) => {
      // The node's init and the agent are in group 0: their group lies outside the namespace.
      const init = encodeGpid(2, 1);
      t.same(
        writeCases(`${mount.mountPoint}/${init}/ctl`, { g: { hex: hex('signal-group TERM') } }),
        { g: 'ESRCH' },
      );
      const r = gproc(['kill', '-g', '-TERM', String(init)]);
      t.equal(r.status, 1);
      t.match(r.stderr, /no process group/);
      await agentsAlive(t);
    },
  );

  t.test('an agent does not signal itself', async (t) => {
    const agentPid = Number(
      readFileSync(`/proc/${cluster.node(2).agentPid()}/status`, 'utf8').match(
        /^NSpid:.*\t(\d+)$/m,
      )![1],
    );
    const r = gproc(['kill', '-TERM', `2:${agentPid}`]);
    t.equal(r.status, 1);
    t.match(r.stderr, /not permitted/);
    await agentsAlive(t);
  });

  t.test('a local user cannot act for another user: the kernel says who it is', async (t) => {
    // A plain gRPC client (any local user can write one) that names root in gproc-act-as,
    // as a mount does, on node 2's socket.
    const victim = Number(
      inNode(cluster.node(2), ['sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo $!']).stdout.trim(),
    );
    t.teardown(() => gproc(['kill', '-KILL', `2:${victim}`]));
    const liar = join(cluster.dir, 'liar.js');
    writeFileSync(
      liar,
      `const grpc = require(${JSON.stringify(join(REPO, 'node_modules/@grpc/grpc-js'))});
const loader = require(${JSON.stringify(join(REPO, 'node_modules/@grpc/proto-loader'))});
const { Agent } = grpc.loadPackageDefinition(loader.loadSync(${JSON.stringify(join(REPO, 'src/proto/gproc.proto'))}, { enums: String })).gproc.v1;
const c = new Agent('unix:' + ${JSON.stringify(cluster.node(2).socket)}, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
md.set('gproc-act-as', '0:0');
c.Signal({ targets: [{ pid: ${victim}, starttime: 0 }], signal: 9 }, md, (e1) => {
  c.Spawn({ argv: ['id', '-u'] }, md, (e2) => {
    c.Signal({ targets: [{ pid: ${victim}, starttime: 0 }], signal: 9 }, (e3, r3) => {
      console.log(JSON.stringify({ actAs: [e1 && e1.code, e2 && e2.code, e1 && e1.details], own: e3 ? e3.code : r3.results[0].outcome }));
      process.exit(0);
    });
  });
});
`,
    );
    const r = spawnSync(
      'setpriv',
      [...asUser().slice(1), 'env', '-u', 'NODE_OPTIONS', 'node', liar],
      { encoding: 'utf8' },
    );
    t.equal(r.stderr, '');
    const got = JSON.parse(r.stdout);
    t.same(
      got.actAs,
      [7, 7, 'uid 65534 may not act for another user'],
      'signal and spawn acting for root: PERMISSION_DENIED',
    );
    t.equal(got.own, 'NOT_PERMITTED', "as itself, root's process is not its to kill");
    await new Promise((r) => setTimeout(r, 200));
    t.ok(existsSync(`${cluster.node(2).procRoot}/${victim}`), "root's sleep on node 2 lives on");
    const audit = readFileSync(`${cluster.dir}/audit-2.log`, 'utf8');
    t.match(
      audit,
      /"action":"refused".*"reason":"uid 65534 may not act for another user"/,
      'the refusal is audited',
    );
    const honest = spawnSync(
      'setpriv',
      [...asUser().slice(1), ...GPROC, 'run', '--node', '1', '--', 'id', '-u'],
      { env, encoding: 'utf8' },
    );
    t.equal(honest.stdout, `${NOBODY}\n`, 'acting for itself is fine');
  });

  t.test("a local user reads no other user's environment from an agent", async (t) => {
    const start = (setpriv: string[], secret: string) =>
      Number(
        inNode(cluster.node(1), [
          'sh',
          '-c',
          `${setpriv.join(' ')} env SECRET=${secret} sleep 1000 >/dev/null 2>&1 & echo $!`,
        ]).stdout.trim(),
      );
    const rootPid = start([], 'root-secret');
    const ownPid = start(
      ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'],
      'own-secret',
    );
    t.teardown(() => gproc(['kill', '-KILL', `1:${rootPid}`, `1:${ownPid}`]));
    // A plain gRPC client (any local user can write one), asking node 1's agent directly.
    const client = join(cluster.dir, 'snoop.js');
    writeFileSync(
      client,
      `const grpc = require(${JSON.stringify(join(REPO, 'node_modules/@grpc/grpc-js'))});
const loader = require(${JSON.stringify(join(REPO, 'node_modules/@grpc/proto-loader'))});
const { Agent } = grpc.loadPackageDefinition(loader.loadSync(${JSON.stringify(join(REPO, 'src/proto/gproc.proto'))})).gproc.v1;
const c = new Agent('unix:' + ${JSON.stringify(cluster.node(1).socket)}, grpc.credentials.createInsecure());
const secrets = (b) => b.toString().split('\\0').filter((x) => x.startsWith('SECRET='));
c.GetSnapshot({}, (err, snap) => {
  if (err) throw err;
  const seen = snap.processes.flatMap((p) => secrets(p.environ));
  c.ReadProcessFile({ process: { pid: ${rootPid}, starttime: 0 }, file: 'ENVIRON' }, (e2, f) => {
    console.log(JSON.stringify({ seen, direct: e2 ? e2.code : secrets(f.content) }));
    process.exit(0);
  });
});
`,
    );
    await waitFor(
      'both sleeps',
      () => existsSync(`${cluster.node(1).procRoot}/${ownPid}`) || undefined,
    );
    const r = spawnSync(
      'setpriv',
      [...asUser().slice(1), 'env', '-u', 'NODE_OPTIONS', 'node', client],
      { encoding: 'utf8' },
    );
    t.equal(r.stderr, '');
    const got = JSON.parse(r.stdout);
    t.same(got.seen, ['SECRET=own-secret'], "its own environment, not root's");
    t.equal(got.direct, 7, "root's environ on demand: PERMISSION_DENIED");
  });

  t.test('gproc run | head: a quiet exit, and the remote process ends', async (t) => {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `${GPROC_SH} run --node 2 -- yes | head -c 1000000 | wc -c; echo "status \${PIPESTATUS:-x}"`,
      ],
      { env, encoding: 'utf8', timeout: 30000 },
    );
    t.match(r.stdout, /^1000000\n/);
    t.equal(r.stderr, '', 'no stack trace');
    await waitFor(
      'the remote yes to end',
      () => (inNode(cluster.node(2), ['pgrep', '-x', 'yes']).status === 1 ? true : undefined),
      5000,
    );
  });

  t.test('events: every reader gets events, not only the first', async (t) => {
    for (const round of [1, 2]) {
      const reader = spawn('head', ['-n', '1', `${mount.mountPoint}/events`], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      reader.stdout.on('data', (d) => (out += d));
      // A process that starts and ends between two looks of the agent is not seen: sleep a bit.
      const ticker = setInterval(
        () => inNode(cluster.node(2), ['sh', '-c', 'sleep 0.5 </dev/null >/dev/null 2>&1 &']),
        200,
      );
      await new Promise((r) => reader.once('exit', r));
      clearInterval(ticker);
      t.match(out, /^\d{13} (start|exit) \d+/, `reader ${round} got a line`);
    }
  });

  t.test('a spawn line that is too long is refused, and its tail never runs', async (t) => {
    const marker = join(cluster.dir, 'tail-ran');
    const spawnFile = `${mount.mountPoint}/nodes/1/spawn`;
    const py = `f = open(${JSON.stringify(spawnFile)}, 'r+')\ntry:\n    f.write('#' + 'x' * 300000 + '; touch ${marker}\\n'); f.flush()\nexcept OSError as e:\n    print(e.errno)`;
    const r = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
    t.equal(r.stdout.trim(), '22', 'EINVAL');
    await new Promise((res) => setTimeout(res, 1000));
    t.notOk(existsSync(marker), 'the tail did not run');
    t.same(
      writeCases(spawnFile, { mixed: { hex: hex('true\n\ntrue\n') } }),
      { mixed: 'EINVAL' },
      'a write with a bad line starts none of its lines',
    );
  });

  t.test('a second mount on a live mount point is refused and harms nothing', async (t) => {
    const r = gproc(['mount', '--config', cluster.configPath, mount.mountPoint], {
      timeout: 10000,
    });
    t.equal(r.status, 1);
    t.match(r.stderr, /already mounted/);
    t.ok(
      readdirSync(mount.mountPoint).includes(String(encodeGpid(1, 1))),
      'the first mount still serves',
    );
    t.match(
      readFileSync(`${mount.mountPoint}/self/stat`, 'utf8'),
      /^\d+ \(node\)/,
      'self still resolves',
    );
  });

  t.test('wait on a zombie answers at once', async (t) => {
    const r = inNode(cluster.node(2), [
      'sh',
      '-c',
      `sh -c 'sleep 0.2 & exec sleep 30' </dev/null >/dev/null 2>&1 & sleep 0.5; pgrep -x -P $! sleep || ps -eo pid,stat,comm | awk '$2 ~ /Z/ {print $1}'`,
    ]);
    const zombie = Number(r.stdout.trim().split('\n').pop());
    const t0 = Date.now();
    const w = gproc(['wait', `2:${zombie}`], { timeout: 20000 });
    t.equal(w.stdout, 'gone\n');
    t.ok(
      Date.now() - t0 < 5000,
      `answered in ${Date.now() - t0} ms, not when the zombie is reaped`,
    );
  });

  t.test(
    'a node that accepts connections but does not answer: run and wait fail within seconds',
    async (t) => {
      const agent = cluster.node(2).agentPid()!;
      process.kill(agent, 'SIGSTOP');
      t.teardown(() => process.kill(agent, 'SIGCONT'));
      for (const args of [
        ['run', '--node', '2', '--', 'true'],
        ['wait', '2:1'],
      ]) {
        const t0 = Date.now();
        const r = gproc(args, { timeout: 20000 });
        t.equal(r.status, 255, `${args[0]}: exit 255`);
        t.match(r.stderr, /does not answer/);
        t.ok(Date.now() - t0 < 6000, `${args[0]} gave up after ${Date.now() - t0} ms`);
      }
      process.kill(agent, 'SIGCONT');
    },
  );

  t.test('odd command lines get one-line errors', async (t) => {
    const table: [string[], RegExp][] = [
      [['kill', '--config', '/dev/zero', '1:1'], /is not a regular file/],
      [['kill', '-TERM', '-KILL', '1:1'], /two signals given/],
      [['kill', '-FOO', '1:1'], /unknown signal "FOO"/],
      [['run', '--node', '1'], /missing required argument|error/],
      [['wait', 'nonsense'], /is not a global pid/],
    ];
    for (const [args, re] of table) {
      const r = gproc(args, { timeout: 10000 });
      t.equal(r.status, 1, args.join(' '));
      t.match(r.stderr, re);
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
    const bom = join(cluster.dir, 'bom.json');
    writeFileSync(bom, `\uFEFF${readFileSync(cluster.configPath, 'utf8')}`);
    t.equal(
      gproc(['run', '--config', bom, '--node', '1', '--', 'true']).status,
      0,
      'a byte-order mark is fine',
    );
  });
});
