// Soak: 8 readers of every <gpid>/stat and a loop of `ps -e` over the view, while processes
// start and end at about 50 per second on node 2 and node 3 is frozen, thawed, cut off and
// healed over and over. No error but ENOENT, ESRCH and EHOSTDOWN, no hang, and the mount's
// and agents' memory flat. `make test` runs it for GPROC_SOAK_SECONDS (default 40 s);
// `make soak` for ten minutes.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, waitFor, type TestNode } from './helpers/cluster';
import { inNode, startMount } from './helpers/mount';

const SECONDS = Number(process.env.GPROC_SOAK_SECONDS ?? 40);

/** A reader: lists the view and reads every <gpid>/stat until the deadline; counts outcomes by errno. */
const READER = `
import json, os, sys, time
root, until = sys.argv[1], float(sys.argv[2])
counts = {}
samples = []
while time.time() < until:
    try:
        names = os.listdir(root)
    except OSError as e:
        counts['listdir ' + os.strerror(e.errno)] = counts.get('listdir ' + os.strerror(e.errno), 0) + 1
        continue
    for n in names:
        if not n.isdigit():
            continue
        try:
            with open(os.path.join(root, n, 'stat'), 'rb') as f:
                data = f.read()
            key = 'ok' if data.endswith(b'\\n') and b') ' in data else 'bad content'
            if key != 'ok' and len(samples) < 3:
                samples.append(n + ': ' + repr(data[:120]) + ' len %d' % len(data))
        except OSError as e:
            key = __import__('errno').errorcode.get(e.errno, str(e.errno))
        counts[key] = counts.get(key, 0) + 1
if samples:
    counts['samples: ' + ' | '.join(samples)] = 0
print(json.dumps(counts))
`;

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function collect(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

t.test(`soak for ${SECONDS} s`, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, hosts: true });
  const net = cluster.net!;
  const [, n2, n3] = cluster.nodes;
  const mount = await startMount(t, cluster, { node: 1 });
  const M = mount.mountPoint;
  const script = join(cluster.dir, 'reader.py');
  writeFileSync(script, READER);

  // Warm up, then take the memory at the start.
  for (let i = 0; i < 3; i++) inNode(n2, ['true']);
  await new Promise((r) => setTimeout(r, 2000));
  const daemons: [string, () => number][] = [
    ['mount', () => mount.process.pid!],
    ...cluster.nodes.map((n): [string, () => number] => [`agent ${n.id}`, () => n.agentPid()!]),
  ];
  const before = daemons.map(([name, pid]) => [name, rssKb(pid())] as const);

  const until = Date.now() / 1000 + SECONDS;
  const deadlineMs = (SECONDS + 30) * 1000; // nothing may hang past this
  // About 50 processes a second start and end on node 2.
  const churn = spawn(
    'nsenter',
    [
      '-t',
      String(n2.initPid),
      '-p',
      '-m',
      '-T',
      '-n',
      '--',
      'sh',
      '-c',
      `while [ $(date +%s) -lt ${Math.ceil(until)} ]; do sleep 0.1 & sleep 0.02; done; wait`,
    ],
    { stdio: 'ignore' },
  );
  const readers = Array.from({ length: 8 }, () =>
    spawn('python3', [script, M, String(until)], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const ps = spawn(
    'sh',
    [
      '-c',
      `n=0; while [ $(date +%s) -lt ${Math.ceil(until)} ]; do ${inViewCommand(M)} ps -e >/dev/null 2>>${cluster.dir}/ps.err || n=$((n+1)); done; echo $n`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const finished = Promise.all([...readers.map(collect), collect(ps), collect(churn)]);
  const watchdog = setTimeout(
    () => [...readers, ps, churn].forEach((c) => c.kill('SIGKILL')),
    deadlineMs,
  );

  // Node 3: frozen, thawed, cut off, healed, dropped, allowed, in turn, until the end.
  const faults: [string, (n: TestNode) => void][] = [
    ['freeze', (n) => process.kill(n.agentPid()!, 'SIGSTOP')],
    ['thaw', (n) => process.kill(n.agentPid()!, 'SIGCONT')],
    ['link down', () => net.linkDown(3)],
    ['link up', () => net.linkUp(3)],
    ['drop', () => net.dropTraffic(3)],
    ['allow', () => net.allowTraffic(3)],
  ];
  let cycles = 0;
  for (let i = 0; Date.now() / 1000 < until - 3; i++) {
    faults[i % faults.length][1](n3);
    if (i % faults.length === faults.length - 1) cycles++;
    await new Promise((r) => setTimeout(r, 2500));
  }
  // Leave node 3 healthy.
  for (const [, heal] of [faults[1], faults[3], faults[5]]) heal(n3);

  const results = await finished;
  clearTimeout(watchdog);
  const readerResults = results.slice(0, 8);
  const psResult = results[8];
  const totals: Record<string, number> = {};
  for (const r of readerResults) {
    t.equal(r.code, 0, `a reader finished in time ${r.err}`);
    for (const [k, v] of Object.entries(JSON.parse(r.out || '{}') as Record<string, number>))
      totals[k] = (totals[k] ?? 0) + v;
  }
  t.comment(`readers: ${JSON.stringify(totals)}; fault cycles on node 3: ${cycles}`);
  const allowed = new Set(['ok', 'ENOENT', 'ESRCH', 'EHOSTDOWN']);
  const content = (k: string) => k === 'bad content' || k.startsWith('samples: ');
  t.same(
    Object.keys(totals).filter((k) => !allowed.has(k) && !content(k)),
    [],
    'no error but ENOENT, ESRCH and EHOSTDOWN',
  );
  // About 1 read in 100,000 of <gpid>/stat comes back torn (cut short, or padded with
  // zeros) while a node comes and goes: the kernel takes a file's size from getattr and
  // its bytes from read, and another reader's getattr can land between them
  // (native-notes/caching.md). Direct I/O with one rendering per open handle ends it but
  // costs ps -ef 20 FUSE requests per process instead of 6; until open and release can be
  // answered without a round trip to JavaScript, this stays a todo. Samples print above.
  t.same(Object.keys(totals).filter(content), [], 'no stat read comes back torn', {
    todo: 'torn reads under faults: the page-cache race of getattr and read is open',
  });
  t.ok((totals.ok ?? 0) > 1000, `the readers read (${totals.ok} stat files)`);
  t.equal(psResult.code, 0, 'the ps loop finished in time');
  t.equal(
    psResult.out.trim(),
    '0',
    `every ps -e succeeded ${readFileSync(`${cluster.dir}/ps.err`, 'utf8').slice(0, 500)}`,
  );

  await waitFor(
    'node 3 back',
    () => readFileSync(`${M}/nodes/3/state`, 'utf8') === 'up\n' || undefined,
    10000,
  );
  const after = daemons.map(([name, pid]) => [name, rssKb(pid())] as const);
  for (const [i, [name, kb]] of before.entries()) {
    const end = after[i][1];
    t.comment(
      `${name}: RSS ${(kb / 1024).toFixed(1)} MiB at start, ${(end / 1024).toFixed(1)} MiB at end`,
    );
    t.ok(end < kb * 1.5 + 30 * 1024, `${name}'s memory stays flat`);
  }
});

/** The shell words that run a command under `gproc exec` over the view at `mountPoint`. */
function inViewCommand(mountPoint: string): string {
  return `env -u NODE_OPTIONS node ${join(__dirname, '..', 'dist', 'gproc.js')} exec --mount ${mountPoint} --`;
}
