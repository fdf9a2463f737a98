// Prometheus metrics (spec section 8): real agents and a real mount serve /metrics on the
// addresses of the cluster file; promtool accepts both; counters move by exactly what a
// ctl write, a spawn and a run did; no process detail (command, uid, pid) leaks; bad
// requests are refused without harm; a port in use is a clear startup error; a real
// prometheus server scrapes both.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPROC, asUser, freePorts, startCluster, waitFor } from './helpers/cluster';
import { inView, startMount } from './helpers/mount';

/** One sample of a scrape: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format (the sample lines; comments are skipped). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample `name` whose labels include `labels` (0 when there is none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find(
    (x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  );
  return s ? s.value : 0;
}

async function scrape(address: string): Promise<string> {
  const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5000) });
  const type = res.headers.get('content-type') ?? '';
  if (res.status !== 200 || !type.startsWith('text/plain; version=0.0.4'))
    throw new Error(`scrape of ${address}: HTTP ${res.status}, ${type}`);
  return res.text();
}

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], {
    input: text,
    encoding: 'utf8',
    timeout: 10000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Label names gproc's own metrics may carry: none names a process, a user or a command. */
const ALLOWED_LABELS = new Set([
  'peer',
  'method',
  'code',
  'result',
  'state',
  'node',
  'mount',
  'op',
  'le',
]);

t.test('metrics of agents and a mount', async (t) => {
  // Node 3 admits root alone: an ordinary user's start there is refused.
  const cluster = await startCluster(t, {
    nodes: 3,
    metrics: true,
    admission: [{ nodes: [3], users: [], groups: [] }],
  });
  const metricsOf = (id: number) => cluster.config.nodes.find((n) => n.id === id)!.metrics!;
  const agentAt = (id: number) => metricsOf(id).agent!;
  const mountAt = metricsOf(1).mount!;
  const mount = await startMount(t, cluster, { node: 1 });
  const env = { ...process.env, GPROC_CONFIG: cluster.configPath, GPROC_NODE: '1' };

  // A process with a command name found nowhere else: it must never appear in a scrape.
  const secret = 'zqxv-secret-cmd';
  const bin = join(mkdtempSync(join(tmpdir(), 'gproc-metrics-')), secret);
  t.teardown(() => rmSync(join(bin, '..'), { recursive: true, force: true }));
  copyFileSync('/bin/sleep', bin);

  t.test('both endpoints pass promtool check metrics', async (t) => {
    inView(mount, ['ps', '-ef']); // some FUSE requests and refreshes to report
    for (const [what, address] of [
      ['agent', agentAt(2)],
      ['mount', mountAt],
    ]) {
      const text = await scrape(address);
      const r = promtool(text);
      t.equal(r.status, 0, `promtool accepts the ${what}'s metrics${r.out ? `: ${r.out}` : ''}`);
      const samples = parse(text);
      t.ok(
        samples.some((s) => s.name === 'process_resident_memory_bytes'),
        `${what}: default process metrics`,
      );
    }
  });

  t.test('a spawn, a ctl write and a run move the counters by what they did', async (t) => {
    const a2 = parse(await scrape(agentAt(2)));
    const m1 = parse(await scrape(mountAt));
    // Spawn through node 2's spawn file (the mount calls Spawn on agent 2).
    const r = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${mount.mountPoint}/nodes/2/spawn; echo 'exec ${bin} 300' >&3; read g <&3; echo $g`,
      ],
      { encoding: 'utf8', timeout: 10000 },
    );
    const gpid = Number(r.stdout.trim());
    t.ok(gpid > 0, `spawned ${gpid}`);
    await waitFor('the spawned process listed', () => {
      const comm = readFileSync(`${mount.mountPoint}/${gpid}/comm`, 'latin1');
      if (comm !== `${secret}\n`) throw new Error(`its comm is ${JSON.stringify(comm)}`);
      return true;
    });
    // One signal through its ctl file (Signal on agent 2).
    writeFileSync(`${mount.mountPoint}/${gpid}/ctl`, 'TERM\n');
    await waitFor(
      'the spawned process gone',
      () => {
        try {
          readFileSync(`${mount.mountPoint}/${gpid}/stat`);
          return false;
        } catch {
          return true;
        }
      },
      5000,
    );
    // One run (Run on agent 2) that ends at once.
    const run = spawnSync(GPROC[0], [...GPROC.slice(1), 'run', '--node', '2', '--', 'true'], {
      env,
      encoding: 'utf8',
      timeout: 15000,
    });
    t.equal(run.status, 0, `gproc run: ${run.stderr}`);

    const a2after = parse(await scrape(agentAt(2)));
    const m1after = parse(await scrape(mountAt));
    const moved = (before: Sample[], after: Sample[], name: string, labels = {}) =>
      value(after, name, labels) - value(before, name, labels);
    t.equal(
      moved(a2, a2after, 'gproc_agent_signals_total', { result: 'delivered' }),
      1,
      'one signal delivered',
    );
    t.equal(moved(a2, a2after, 'gproc_agent_signals_total', { result: 'ESRCH' }), 0);
    t.equal(moved(a2, a2after, 'gproc_agent_signals_total', { result: 'EPERM' }), 0);
    t.equal(
      moved(a2, a2after, 'gproc_agent_spawns_total', { method: 'Spawn', result: 'started' }),
      1,
      'one spawn started',
    );
    t.equal(
      moved(a2, a2after, 'gproc_agent_spawns_total', { method: 'Run', result: 'started' }),
      1,
      'one run started',
    );
    for (const method of ['Signal', 'Spawn', 'Run'])
      t.equal(
        moved(a2, a2after, 'gproc_agent_rpc_seconds_count', { method, code: 'OK' }),
        1,
        `one ${method} call timed, status OK`,
      );
    t.ok(
      moved(a2, a2after, 'gproc_agent_snapshot_seconds_count') >= 1,
      'the table readings for the Watch stream are timed',
    );
    // Another node saw none of it.
    const a3 = parse(await scrape(agentAt(3)));
    t.equal(
      value(a3, 'gproc_agent_signals_total', { result: 'delivered' }),
      0,
      'node 3 signalled nothing',
    );
    t.equal(value(a3, 'gproc_agent_spawns_total', { method: 'Spawn', result: 'started' }), 0);

    t.equal(
      moved(m1, m1after, 'gproc_mount_fuse_seconds_count', { mount: 'control', op: 'write' }),
      2,
      "the mount's control view served two writes (the spawn line, the ctl command)",
    );
    t.ok(
      moved(m1, m1after, 'gproc_mount_fuse_seconds_count', { mount: 'view', op: 'getattr' }) > 0,
      'getattr requests of the view counted',
    );
    t.ok(
      moved(m1, m1after, 'gproc_mount_replica_updates_total', { node: '2' }) > 0,
      "node 2's replica updates counted",
    );
    const age = value(m1after, 'gproc_mount_replica_age_seconds', { node: '2' });
    t.ok(age >= 0 && age < 5, `node 2's replica is fresh (${age} s old)`);
  });

  t.test(
    "an ordinary user's runs: counted as started, or by the code that refused them",
    async (t) => {
      const asNobody = (node: number) =>
        spawnSync(
          'setpriv',
          [...asUser().slice(1), ...GPROC, 'run', '--node', String(node), '--', 'true'],
          { env, encoding: 'utf8', cwd: '/tmp', timeout: 15000 },
        );
      const before = [2, 3].map(async (id) => parse(await scrape(agentAt(id))));
      const [b2, b3] = await Promise.all(before);
      const on2 = asNobody(2);
      t.equal(on2.status, 0, `nobody runs on node 2: ${on2.stderr}`);
      const on3 = asNobody(3);
      t.equal(on3.status, 77, `nobody is refused on node 3: ${on3.stderr}`);
      const [a2, a3] = await Promise.all(
        [2, 3].map(async (id) => parse(await scrape(agentAt(id)))),
      );
      const run = (result: string) => ({ method: 'Run', result });
      t.equal(
        value(a2, 'gproc_agent_spawns_total', run('started')) -
          value(b2, 'gproc_agent_spawns_total', run('started')),
        1,
      );
      t.equal(
        value(a3, 'gproc_agent_spawns_total', run('PERMISSION_DENIED')) -
          value(b3, 'gproc_agent_spawns_total', run('PERMISSION_DENIED')),
        1,
        'the refusal counted by its code',
      );
      t.equal(
        value(a3, 'gproc_agent_spawns_total', run('started')),
        value(b3, 'gproc_agent_spawns_total', run('started')),
      );
      t.equal(
        value(a3, 'gproc_agent_rpc_seconds_count', { method: 'Run', code: 'PERMISSION_DENIED' }) -
          value(b3, 'gproc_agent_rpc_seconds_count', { method: 'Run', code: 'PERMISSION_DENIED' }),
        1,
        'the refused Run call timed with its code',
      );
    },
  );

  t.test('no process detail in any scrape', async (t) => {
    // A live process with the distinctive name on node 3, as its owner would start it.
    const r = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${mount.mountPoint}/nodes/3/spawn; echo 'exec ${bin} 300' >&3; read g <&3; echo $g`,
      ],
      { encoding: 'utf8', timeout: 10000 },
    );
    const gpid = Number(r.stdout.trim());
    t.ok(gpid > 0);
    inView(mount, ['ps', '-ef']);
    for (const address of [agentAt(1), agentAt(2), agentAt(3), mountAt]) {
      const text = await scrape(address);
      t.notOk(text.includes('zqxv'), `${address}: no command name`);
      t.notOk(text.includes(String(gpid)), `${address}: no gpid`);
      for (const s of parse(text).filter((x) => x.name.startsWith('gproc_'))) {
        const bad = Object.keys(s.labels).filter((l) => !ALLOWED_LABELS.has(l));
        if (bad.length) t.fail(`${s.name} has labels ${bad.join(', ')}`);
      }
    }
    t.ok(
      value(parse(await scrape(agentAt(3))), 'gproc_agent_started_processes') >= 1,
      'agent 3 counts the process it started',
    );
    writeFileSync(`${mount.mountPoint}/${gpid}/ctl`, 'KILL\n');
  });

  t.test('bad requests get an HTTP error; the daemons keep serving', async (t) => {
    for (const address of [agentAt(1), mountAt]) {
      const other = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(5000) });
      t.equal(other.status, 404, `${address}: / is 404`);
      const post = await fetch(`http://${address}/metrics`, {
        method: 'POST',
        body: 'x',
        signal: AbortSignal.timeout(5000),
      });
      t.equal(post.status, 405, `${address}: POST /metrics is 405`);
      const answer = await new Promise<string>((resolve, reject) => {
        const [host, port] = address.split(':');
        const s = connect(Number(port), host);
        let got = '';
        s.on('data', (d) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', reject);
        s.write('\x00\xff garbage \r\n\r\n');
        setTimeout(() => s.destroy(), 5000).unref();
      });
      t.match(answer, /^HTTP\/1\.1 400/, `${address}: garbage is 400`);
      t.ok((await scrape(address)).includes('gproc_'), `${address}: still serving`);
    }
  });

  t.test('the mount reports a node down', async (t) => {
    const before = parse(await scrape(mountAt));
    t.equal(value(before, 'gproc_mount_nodes', { state: 'up' }), 3);
    t.equal(value(before, 'gproc_mount_nodes', { state: 'down' }), 0);
    process.kill(cluster.node(3).agentPid()!, 'SIGKILL');
    const after = await waitFor(
      'node 3 down in the metrics',
      async () => {
        const s = parse(await scrape(mountAt));
        return value(s, 'gproc_mount_nodes', { state: 'down' }) === 1 && s;
      },
      10000,
    );
    t.equal(value(after, 'gproc_mount_nodes', { state: 'up' }), 2);
    t.equal(value(after, 'gproc_mount_node_up', { node: '3' }), 0);
    t.equal(value(after, 'gproc_mount_node_up', { node: '2' }), 1);
    cluster.node(3).startAgent();
    await waitFor('node 3 up again', () =>
      cluster
        .node(3)
        .client.nodeInfo()
        .then(() => true),
    );
  });

  t.test('a real prometheus scrapes both endpoints', async (t) => {
    const [port] = await freePorts(1);
    const dir = mkdtempSync(join(tmpdir(), 'gproc-prometheus-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: {scrape_interval: 1s, scrape_timeout: 1s}',
        'scrape_configs:',
        `  - {job_name: gproc-agent, static_configs: [{targets: ['${agentAt(1)}']}]}`,
        `  - {job_name: gproc-mount, static_configs: [{targets: ['${mountAt}']}]}`,
        '',
      ].join('\n'),
    );
    const server = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    server.stderr.on('data', (d) => (log += d.toString()));
    t.teardown(() => {
      server.kill('SIGKILL');
    });
    const up = await waitFor(
      'prometheus to scrape both targets',
      async () => {
        if (server.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`, {
            signal: AbortSignal.timeout(2000),
          });
          const body = (await res.json()) as {
            data: { result: { metric: { job: string }; value: [number, string] }[] };
          };
          const jobs = Object.fromEntries(body.data.result.map((r) => [r.metric.job, r.value[1]]));
          return jobs['gproc-agent'] === '1' && jobs['gproc-mount'] === '1' && jobs;
        } catch {
          return false;
        }
      },
      30000,
    );
    t.same(up, { 'gproc-agent': '1', 'gproc-mount': '1' }, 'up == 1 for both targets');
  });
});

t.test('a metrics port in use is a startup error naming the key', async (t) => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  t.teardown(() => holder.close());
  const taken = (holder.address() as { port: number }).port;
  const [grpc] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'gproc-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'cluster.json');
  writeFileSync(
    config,
    JSON.stringify({
      nodes: [
        {
          id: 1,
          name: 'n1',
          address: `127.0.0.1:${grpc}`,
          socket: join(dir, 'n1.sock'),
          metrics: { agent: `127.0.0.1:${taken}` },
        },
      ],
    }),
  );
  const r = spawnSync(
    GPROC[0],
    [
      ...GPROC.slice(1),
      'agent',
      '--config',
      config,
      '--node',
      '1',
      '--insecure',
      '--audit-log',
      join(dir, 'audit.log'),
      '--state-dir',
      join(dir, 'state'),
    ],
    { encoding: 'utf8', timeout: 15000 },
  );
  t.not(r.status, 0, 'the agent does not start');
  t.match(
    r.stderr,
    new RegExp(
      `nodes\\[0\\]\\.metrics\\.agent: cannot serve metrics on 127\\.0\\.0\\.1:${taken}: EADDRINUSE`,
    ),
    `the message names the key: ${r.stderr.trim()}`,
  );
});
