// procps over a cluster whose every agent is dead: free, uptime, vmstat and ps under
// `gproc exec` exit 0 and print sane figures, on a mount that saw the nodes before they
// went down and on one started after (no node ever seen).
import t, { type Test } from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { startCluster, waitFor } from './helpers/cluster';
import { inView, startMount, type TestMount } from './helpers/mount';

/** Runs the procps tools in the view; checks exit status and what they print. */
function procps(t: Test, m: TestMount) {
  const free = inView(m, ['free']);
  t.equal(free.status, 0, `free exits 0 ${free.stderr}`);
  t.match(free.stdout, /^Mem: +1 +0 +1 +0 +0 +1$/m, 'free: a machine of 1 kB, nothing used');
  t.match(free.stdout, /^Swap: +0 +0 +0$/m);
  const uptime = inView(m, ['uptime']);
  t.equal(uptime.status, 0, `uptime exits 0 ${uptime.stderr}`);
  t.match(
    uptime.stdout,
    /up .*load average: 0\.00, 0\.00, 0\.00$/m,
    `uptime: ${uptime.stdout.trim()}`,
  );
  const vmstat = inView(m, ['vmstat', '1', '1']);
  t.equal(vmstat.status, 0, `vmstat 1 1 exits 0 ${vmstat.stderr}`);
  const row = vmstat.stdout.trim().split('\n').pop()!.trim().split(/ +/);
  t.equal(row.length, 17, `vmstat: one row of 17 columns: ${row.join(' ')}`);
  t.ok(
    row.every((v) => /^\d+$/.test(v)),
    'all numbers',
  );
  // procps's ps refuses a /proc in which it finds no process at all ("fatal library error,
  // reap"): with every node down, the view lists the cluster's root (gpid 1) alone.
  const listed = readdirSync(m.mountPoint).filter((n) => /^\d+$/.test(n));
  t.same(listed, ['1'], "the cluster's root alone is listed");
  for (const argv of [
    ['ps', 'aux'],
    ['ps', 'u', '-e'],
  ]) {
    const ps = inView(m, argv);
    t.equal(ps.status, 0, `${argv.join(' ')} exits 0 ${ps.stderr}`);
    t.match(ps.stdout, /^USER +PID %CPU %MEM/, `${argv.join(' ')}: its header`);
    t.match(
      ps.stdout,
      /^root +1 +0\.0 +0\.0 +0 +0 \? +Ss +\S+ +0:00 \[cluster\]$/m,
      `${argv.join(' ')}: the cluster's root`,
    );
    t.equal(ps.stdout.trim().split('\n').length, 2, 'and nothing else');
    t.equal(ps.stderr, '', 'and no complaint');
  }
  const tree = inView(m, ['pstree', '-p']);
  t.equal(tree.status, 0, `pstree -p exits 0 ${tree.stderr}`);
  t.equal(tree.stdout, 'cluster(1)\n', 'pstree -p: the root alone');
}

t.test('procps with every node down', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  const seen = await startMount(t, cluster, { node: 1 });
  t.match(
    readFileSync(`${seen.mountPoint}/meminfo`, 'utf8'),
    /^MemTotal: +[1-9]\d* kB$/m,
    'figures while up',
  );
  for (const n of cluster.nodes) process.kill(n.agentPid()!, 'SIGKILL');
  for (const n of cluster.nodes) {
    await waitFor(
      `node ${n.id} down`,
      () =>
        readFileSync(`${seen.mountPoint}/nodes/${n.id}/state`, 'utf8') === 'down\n' || undefined,
      10000,
    );
  }
  // The table of the refresh after both went down.
  await waitFor(
    'meminfo of no node',
    () =>
      /^MemTotal: +1 kB$/m.test(readFileSync(`${seen.mountPoint}/meminfo`, 'utf8')) || undefined,
    5000,
  );

  t.test('a mount that saw the nodes', async (t) => {
    const meminfo = readFileSync(`${seen.mountPoint}/meminfo`, 'utf8');
    t.ok(meminfo.split('\n').length > 40, 'meminfo keeps its lines');
    t.match(
      readFileSync(`${seen.mountPoint}/stat`, 'utf8'),
      /^cpu {2}0 0 0 0 0 0 0 0 0 0\n(cpu\d+ 0 0 0 0 0 0 0 0 0 0\n)+/,
      'cpu lines at 0, the CPUs last seen',
    );
    t.ok(
      readFileSync(`${seen.mountPoint}/cpuinfo`, 'utf8').includes('processor\t: 0'),
      'cpuinfo: the CPUs last seen',
    );
    t.ok(
      Number(readFileSync(`${seen.mountPoint}/uptime`, 'utf8').split(' ')[0]) > 0,
      'uptime is not 0',
    );
    procps(t, seen);
  });

  t.test('a mount started with every node down (none ever seen)', async (t) => {
    const fresh = await startMount(t, cluster, { node: 1 });
    t.match(
      readFileSync(`${fresh.mountPoint}/meminfo`, 'utf8'),
      /^MemTotal: +1 kB\nMemFree: +1 kB\nMemAvailable: +1 kB\n/,
      'the standard keys',
    );
    t.match(
      readFileSync(`${fresh.mountPoint}/stat`, 'utf8'),
      /^cpu {2}0 0 0 0 0 0 0 0 0 0\nintr 0\n/,
    );
    procps(t, fresh);
  });
});
