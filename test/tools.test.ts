// Unmodified tools over the cluster view agree with the same tools on
// each node's own /proc, after PID translation. Three nodes, each in its own PID and time
// namespace, with hostile processes; tools run through `gproc exec` and, for comparison,
// inside each node (nsenter). Nothing may appear on stderr.
import t from 'tap';
import { existsSync } from 'node:fs';
import { encodeGpid, PID_LIMIT } from '../src/gpid';
import { startCluster, waitFor } from './helpers/cluster';
import { inNode, inView, startMount } from './helpers/mount';

const PY = '/usr/bin/python3'; // Debian's, which has python3-psutil

/** Translates a token holding a local PID of `node` ("0" and "-1" stay). */
function tr(node: number, token: string): string {
  const n = Number(token);
  return Number.isInteger(n) && n > 0 ? String(encodeGpid(node, n)) : token;
}

/** A parent as the view shows it: 0 on the node (its init, or a parent outside its namespace) is the cluster's root, 1. */
const parent = (node: number, token: string) => (token === '0' ? '1' : tr(node, token));

/** Rows of a ps output keyed by the first column, each as whitespace tokens. */
function rows(out: string): Map<string, string[]> {
  const lines = out.trimEnd().split('\n').slice(1);
  return new Map(lines.map((l) => l.trim().split(/\s+/)).map((tokens) => [tokens[0], tokens]));
}

t.test('tools over the cluster view', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, fixtures: true });
  const mount = await startMount(t, cluster, { node: 1 });

  const noStderr = (what: string, r: { stderr: string; status: number | null }) => {
    t.equal(r.stderr, '', `${what}: nothing on stderr`);
    t.equal(r.status, 0, `${what}: exit status 0`);
  };

  t.test('ps -eo pid,ppid,pgid,sid,tpgid,uid,stat,nlwp,lstart,rss,vsz,comm,args', async (t) => {
    const cols = 'pid,ppid,pgid,sid,tpgid,uid,stat,nlwp,lstart,rss,vsz,comm,args';
    const view = inView(mount, ['ps', '-eo', cols]);
    noStderr('ps over the view', view);
    const viewRows = rows(view.stdout);
    for (const node of cluster.nodes) {
      const own = inNode(node, ['ps', '-eo', cols]);
      t.equal(own.status, 0);
      const fixtures = new Set(Object.values(node.fixtures!).map(String));
      let compared = 0;
      for (const [pid, tokens] of rows(own.stdout)) {
        const gpid = tr(node.id, pid);
        const got = viewRows.get(gpid);
        if (!got) continue; // ps and nsenter themselves: started after the snapshot
        const want = [
          tr(node.id, tokens[0]),
          parent(node.id, tokens[1]),
          ...tokens.slice(2, 5).map((x) => tr(node.id, x)),
          ...tokens.slice(5),
        ];
        // ps cuts a line at 128 KiB: with wider PID columns the 200 KiB args end sooner.
        const cut = (a: string[], b: string[]) => {
          const [x, y] = [a.slice(15).join(' '), b.slice(15).join(' ')];
          const n = Math.min(x.length, y.length);
          return [a.slice(0, 15), x.slice(0, n)] as const;
        };
        const [gotCols, gotArgs] = cut(got, want);
        const [wantCols, wantArgs] = cut(want, got);
        t.equal(gotArgs, wantArgs, `node ${node.id} pid ${pid}: comm and args`);
        const [fullGot, fullWant] = [got, want].map((r) => r.slice(15).join(' ').length);
        t.ok(
          Math.abs(fullGot - fullWant) <= 64,
          `args cut at most by the width of the PID columns (${fullGot} vs ${fullWant})`,
        );
        if (fixtures.has(pid)) {
          t.same(gotCols, wantCols, `node ${node.id} pid ${pid}: every column`);
        } else {
          // Running processes (the agent) may change stat, nlwp, rss or vsz between the two reads.
          const stable = (r: readonly string[]) => [...r.slice(0, 6), ...r.slice(8, 13)];
          t.same(stable(gotCols), stable(wantCols), `node ${node.id} pid ${pid}: stable columns`);
        }
        compared++;
      }
      const listed = [...viewRows.keys()].filter(
        (g) => Math.floor(Number(g) / PID_LIMIT) === node.id,
      ).length;
      t.ok(
        compared >= listed - 1 && compared >= 7,
        `node ${node.id}: ${compared} of its ${listed} processes compared`,
      );
    }
  });

  t.test('ps -eLf lists every thread with its global LWP', async (t) => {
    const view = inView(mount, ['ps', '-eLf']);
    noStderr('ps -eLf', view);
    for (const node of cluster.nodes) {
      const pid = node.fixtures!.threads;
      const own = inNode(node, ['ps', '-Lf', '-p', String(pid)]);
      const want = own.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/));
      const got = view.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((r) => r[1] === tr(node.id, String(pid)));
      t.equal(got.length, want.length, `node ${node.id}: ${want.length} threads`);
      t.same(
        got.map((r) => [r[1], r[2], r[3], r[5], r.slice(9).join(' ')]),
        want.map((r) => [
          tr(node.id, r[1]),
          parent(node.id, r[2]),
          tr(node.id, r[3]),
          r[5],
          r.slice(9).join(' '),
        ]),
        `node ${node.id}: PID, PPID, LWP, NLWP and CMD of each thread`,
      );
    }
  });

  t.test('top -b -n1', async (t) => {
    const view = inView(mount, ['top', '-b', '-n1', '-w', '512']);
    noStderr('top', view);
    const total = Number(/Tasks:\s+(\d+) total/.exec(view.stdout)?.[1]);
    const ps = inView(mount, ['ps', '-e', '--no-headers']).stdout.trim().split('\n').length;
    t.ok(Math.abs(total - ps) <= 2, `top counts ${total} tasks, ps lists ${ps}`);
    t.match(view.stdout, /1 zombie|[1-9] zombie/, 'top sees the zombies');
    for (const node of cluster.nodes)
      t.match(view.stdout, new RegExp(`\\b${encodeGpid(node.id, node.fixtures!.bigcmd)}\\b`));

    // top -H shows every thread with its process's memory (it reads task/<gtid>/statm).
    const threaded = encodeGpid(1, cluster.node(1).fixtures!.threads);
    const threads = inView(mount, ['top', '-H', '-b', '-n1', '-w', '512', '-p', String(threaded)]);
    noStderr('top -H', threads);
    const rows = threads.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((r) => /^\d+$/.test(r[0]));
    t.equal(rows.length, 4, 'top -H: the process and its 3 threads');
    t.ok(
      rows.every((r) => r[4] === rows[0][4] && r[4] !== '0'),
      `top -H: the same VIRT for every thread (${rows.map((r) => r[4]).join(' ')})`,
    );
  });

  t.test('pgrep -f and pgrep by name', async (t) => {
    const view = inView(mount, ['pgrep', '-f', 'a{50}']);
    noStderr('pgrep -f', view);
    const want = cluster.nodes.map((n) => String(encodeGpid(n.id, n.fixtures!.bigcmd))).sort();
    t.same(view.stdout.trim().split('\n').sort(), want, 'the 200 KiB command line of every node');
    const zombies = inView(mount, ['pgrep', '-r', 'Z']);
    t.same(
      zombies.stdout.trim().split('\n').sort(),
      cluster.nodes.map((n) => String(encodeGpid(n.id, n.fixtures!.zombie))).sort(),
      'pgrep -r Z',
    );
  });

  t.test('pstree -p shows a node tree with global PIDs', async (t) => {
    for (const node of cluster.nodes) {
      const view = inView(mount, ['pstree', '-p', '-A', String(encodeGpid(node.id, 1))]);
      noStderr(`pstree of node ${node.id}`, view);
      const own = inNode(node, ['pstree', '-p', '-A', '1']);
      const translated = own.stdout.replace(
        /\((\d+)\)/g,
        (_, pid) => `(${encodeGpid(node.id, Number(pid))})`,
      );
      // The tree grows by the tools themselves while they run (nsenter, pstree): compare the fixtures' lines.
      for (const [what, pid] of Object.entries(node.fixtures!)) {
        if (what === 'zombie') continue;
        const gp = `(${encodeGpid(node.id, pid)})`;
        t.ok(view.stdout.includes(gp), `node ${node.id}: ${what} ${gp} in the tree`);
        t.ok(translated.includes(gp), "and in the node's own tree");
      }
    }
  });

  t.test('free and uptime', async (t) => {
    const free = inView(mount, ['free', '-k']);
    noStderr('free', free);
    const memTotal = (out: string) => Number(/^Mem:\s+(\d+)/m.exec(out)![1]);
    const own = cluster.nodes.map((n) => memTotal(inNode(n, ['free', '-k']).stdout));
    t.equal(
      memTotal(free.stdout),
      own.reduce((a, b) => a + b, 0),
      'free: the memory of every node',
    );
    const up = inView(mount, ['uptime']);
    noStderr('uptime', up);
    t.match(up.stdout, /load average: [\d.]+, [\d.]+, [\d.]+/);
  });

  t.test("kill(2) reaches gpids under gproc exec: pkill, a shell's kill, os.kill", async (t) => {
    const node = cluster.node(2);
    const pid = Number(
      inNode(node, ['sh', '-c', 'sleep 1003 </dev/null >/dev/null 2>&1 & echo $!']).stdout.trim(),
    );
    const gpid = encodeGpid(2, pid);
    const state = () => inNode(node, ['ps', '-o', 'stat=', '-p', String(pid)]).stdout.trim()[0];
    await new Promise((r) => setTimeout(r, 1100)); // the next refresh lists it
    const probe = inView(mount, ['pkill', '-0', '-x', '-f', 'sleep 1003']);
    t.equal(probe.status, 0, 'pkill -0 finds it (signal 0 only checks)');
    t.equal(probe.stderr, '');
    t.equal(
      inView(mount, ['pkill', '-0', '-f', 'no such command line']).status,
      1,
      'and not what is not there',
    );
    t.equal(inView(mount, ['sh', '-c', `kill -STOP ${gpid}`]).status, 0, "a shell's kill");
    t.equal(state(), 'T', 'stopped on node 2');
    t.equal(
      inView(mount, [PY, '-c', `import os; os.kill(${gpid}, 18)`]).status,
      0,
      "Python's os.kill",
    );
    t.equal(state(), 'S', 'running again');
    const nobody = inView(mount, [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'kill',
      '-TERM',
      String(gpid),
    ]);
    t.match(nobody.stderr, /Operation not permitted/, "another user's kill: EPERM");
    t.match(
      inView(mount, ['kill', '-0', String(encodeGpid(2, 4000000))]).stderr,
      /No such process/,
      'a gpid that is not there: ESRCH',
    );
    t.equal(inView(mount, ['pkill', '-x', '-f', 'sleep 1003']).status, 0, 'pkill');
    await waitFor('it ended', () => (state() === undefined ? true : undefined), 3000);
    await waitFor(
      'the view to drop it',
      () => (existsSync(`${mount.mountPoint}/${gpid}`) ? undefined : true),
      3000,
    );
  });

  t.test('psutil with PROCFS_PATH', async (t) => {
    const script = [
      'import json, sys, psutil',
      'psutil.PROCFS_PATH = sys.argv[1]',
      'out = {}',
      'for pid in map(int, sys.argv[2:]):',
      '    p = psutil.Process(pid)',
      '    out[pid] = dict(name=p.name(), ppid=p.ppid(), cmdline=p.cmdline(), create_time=p.create_time(),',
      '                    status=p.status(), rss=p.memory_info().rss, vms=p.memory_info().vms,',
      '                    threads=p.num_threads(), children=sorted(c.pid for c in p.children()))',
      'print(json.dumps(out))',
    ].join('\n');
    for (const node of cluster.nodes) {
      const fx = node.fixtures!;
      const pids = [fx.hostile, fx.zombie_parent, fx.bigcmd, fx.threads, 1];
      const own = inNode(node, [PY, '-c', script, '/proc', ...pids.map(String)]);
      t.equal(own.stderr, '');
      const want = JSON.parse(own.stdout);
      const view = inView(mount, [
        PY,
        '-c',
        script,
        '/proc',
        ...pids.map((p) => String(encodeGpid(node.id, p))),
      ]);
      noStderr(`psutil on node ${node.id}`, view);
      const got = JSON.parse(view.stdout);
      for (const pid of pids) {
        const w = want[pid];
        const g = got[encodeGpid(node.id, pid)];
        t.equal(g.name, w.name, `${pid} name`);
        t.equal(g.ppid, Number(parent(node.id, String(w.ppid))), `${pid} ppid`);
        t.same(g.cmdline, w.cmdline, `${pid} cmdline`);
        t.ok(
          Math.abs(g.create_time - w.create_time) < 0.02,
          `${pid} create_time ${g.create_time} ~ ${w.create_time} (true wall-clock start)`,
        );
        t.equal(g.status, w.status, `${pid} status`);
        t.equal(g.threads, w.threads, `${pid} num_threads`);
        t.same(
          g.children,
          w.children.map((c: number) => encodeGpid(node.id, c)),
          `${pid} children`,
        );
        if (pid !== 1) t.equal(g.rss, w.rss, `${pid} memory_info`);
      }
    }
  });
});
