// Fuzzing the agents and the mount with mutated valid input, on real hosts (a 2-node
// cluster, each node a network namespace and a PID namespace of its own, a mount on node 1).
//
// 1. gRPC: valid encoded requests of every RPC, mutated (bit flips, truncation, extreme
//    values, huge and invalid strings, many repeated entries, unknown fields) with mutated
//    metadata (gproc-act-as, gproc-credential), sent as raw bytes by helpers/fuzz-rpc.ts:
//    half over node 1's Unix socket (mostly as nobody, unrestricted; some as root, made
//    harmless), half over TLS to node 2 from host 1 (node 1's certificate acting for mutated
//    users, or no certificate and a mutated real credential; made harmless).
// 2. The file system: random paths and operations under the mount (helpers/fuzz-fs.py), as
//    nobody, and read-only as root.
// Nothing may crash or hang; only documented status codes and errnos may come back; the
// root-owned canaries on every node must live through it all.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { REPO, startCluster, type TestCluster, type TestNode, NOBODY } from './helpers/cluster';
import type { FuzzResult, FuzzSpec } from './helpers/fuzz-rpc';
import { alive, inNode, sleeper, startMount } from './helpers/mount';

const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const NODE = ['env', '-u', 'NODE_OPTIONS', 'node'];

/** RPC fuzzing: requests in all, and the wall-clock budget of the fuzzers (they run at once). */
const RPC_REQUESTS = 10_000;
const RPC_BUDGET_MS = 60_000;
/** File-system fuzzing: operations as nobody, and read-only ones as root. */
const FS_OPS = 3000;
const FS_BUDGET_S = 20;
const FS_ROOT_OPS = 400;
const FS_ROOT_BUDGET_S = 5;

/** Status codes an agent may answer (gproc.proto), per RPC; INTERNAL only for requests it cannot decode. */
const DOCUMENTED = [
  'OK',
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'CANCELLED',
  'INTERNAL_DECODING',
  'UNAVAILABLE',
];
const allowedCodes = (rpc: string) =>
  ['Wait', 'Events', 'Watch'].includes(rpc) ? [...DOCUMENTED, 'DEADLINE_EXCEEDED'] : DOCUMENTED;
// DEADLINE_EXCEEDED_HEAVY: a request of megabytes, or of over a thousand entries, that was not
// served within the 10 s deadline on a loaded machine: counted, shown, allowed.
DOCUMENTED.push('DEADLINE_EXCEEDED_HEAVY');
// DEADLINE_EXCEEDED_CLIENT_STALLED: the fuzzer's own event loop was held up a second or more
// during the call (it could neither send nor read): not the agent's doing. A deadline missed
// with neither excuse fails the test.
DOCUMENTED.push('DEADLINE_EXCEEDED_CLIENT_STALLED');
// INTERNAL_CLIENT_WRITE_ORDER: the fuzzer's own grpc-js client ended a Run stream before its
// last write went out ("Write error: write after end", made in the client): not an answer.
DOCUMENTED.push('INTERNAL_CLIENT_WRITE_ORDER');
/** Errnos the view may answer a random operation with (spec section 6, and the kernel's own for a read-only FUSE tree). */
const DOCUMENTED_ERRNOS = [
  'ENOENT',
  'EACCES',
  'EPERM',
  'EINVAL',
  'EISDIR',
  'ENOTDIR',
  'ESRCH',
  'EHOSTDOWN',
  'EROFS',
  'EBADF',
  'ENAMETOOLONG',
  'EXDEV',
  'ENOSYS',
  'EOPNOTSUPP',
  'ENOTSUP',
  'EEXIST',
  'ENOTEMPTY',
  'EFBIG',
  'EOVERFLOW',
  'ENODATA',
  'EAGAIN',
  // The kernel's, before the view is asked: renaming onto the mount point itself.
  'EBUSY',
];
/** Outcomes of the fs fuzzer that are not errnos: done, not done (would leave the view), blocked by design (wait, events). */
const FS_OUTCOMES = ['ok', 'skipped', 'blocked', ...DOCUMENTED_ERRNOS];

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs argv, killing it after `timeoutMs` (a watchdog: a fuzzer that hangs fails the test). */
function run(argv: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 16));
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** Bundles helpers/fuzz-rpc.ts into `dir` (as buildProbe does the probe). */
function buildFuzzer(dir: string): string {
  const out = join(dir, 'fuzz-rpc.js');
  const r = spawnSync(
    join(REPO, 'node_modules/.bin/esbuild'),
    [
      join(__dirname, 'helpers', 'fuzz-rpc.ts'),
      '--bundle',
      '--platform=node',
      '--target=node20',
      '--log-level=warning',
      `--outfile=${out}`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`bundling the fuzzer failed: ${r.stderr}`);
  chmodSync(out, 0o644);
  return out;
}

/** A table of counts: rows by name, a column per outcome. */
function table(rows: Record<string, Record<string, number>>): string {
  const cols = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r)))].sort();
  const width = Math.max(8, ...Object.keys(rows).map((k) => k.length));
  const lines = [['', ...cols].map((c, i) => (i === 0 ? c.padEnd(width) : c)).join('  ')];
  for (const [name, r] of Object.entries(rows).sort()) {
    lines.push(
      [name.padEnd(width), ...cols.map((c) => String(r[c] ?? 0).padStart(c.length))].join('  '),
    );
  }
  return lines.join('\n');
}

function sum(rows: Record<string, Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of Object.values(rows))
    for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Every agent and the mount are alive, answer, and the canaries live. */
async function checkAlive(
  t: Test,
  cluster: TestCluster,
  mountPoint: string,
  mountProc: { exitCode: number | null; signalCode: string | null },
  canaries: Map<TestNode, number[]>,
  when: string,
) {
  for (const n of cluster.nodes) {
    t.ok(n.agentPid(), `${when}: the agent of node ${n.id} runs`);
    const info = await n.client.nodeInfo().catch((err: Error) => err);
    t.notOk(
      info instanceof Error,
      `${when}: the agent of node ${n.id} answers GetNodeInfo ${info instanceof Error ? info.message : ''}`,
    );
  }
  t.ok(
    mountProc.exitCode === null && mountProc.signalCode === null,
    `${when}: the mount process runs`,
  );
  const ls = spawnSync('ls', [mountPoint], { encoding: 'utf8', timeout: 10000 });
  t.equal(ls.status, 0, `${when}: ls of the mount works ${ls.stderr}`);
  t.match(ls.stdout, /\bnodes\b/, `${when}: and lists nodes/`);
  const stat = spawnSync('cat', [join(mountPoint, 'stat')], { encoding: 'utf8', timeout: 10000 });
  t.equal(stat.status, 0, `${when}: cat stat works ${stat.stderr}`);
  t.match(stat.stdout, /^cpu /m, `${when}: stat has its cpu line`);
  for (const [node, pids] of canaries) {
    for (const pid of pids)
      t.ok(alive(node, pid), `${when}: canary ${pid} on node ${node.id} lives`);
  }
}

t.test('fuzzing the agents and the mount', async (t) => {
  const cluster = await startCluster(t, { nodes: 2, hosts: true });
  const [n1, n2] = cluster.nodes;
  const mount = await startMount(t, cluster, { node: 1 });
  const canaries = new Map<TestNode, number[]>(
    cluster.nodes.map((n) => [n, [sleeper(n), sleeper(n)]]),
  );
  // nobody's own processes: fair game for nobody's signals and ctl writes.
  const nobodys = new Map<TestNode, number[]>(
    cluster.nodes.map((n) => [n, [sleeper(n, NOBODY), sleeper(n, NOBODY)]]),
  );
  t.teardown(() => {
    for (const n of cluster.nodes)
      inNode(n, ['kill', '-9', ...[...canaries.get(n)!, ...nobodys.get(n)!].map(String)]);
  });
  const fuzzer = buildFuzzer(cluster.dir);
  const pki = join(cluster.dir, 'pki');
  const inHost1 = ['nsenter', `--net=/run/netns/${cluster.net!.host(1).netns}`, '--'];
  const targets = (n: TestNode) => [1, ...canaries.get(n)!, ...nobodys.get(n)!];

  t.test('gRPC: mutated requests of every RPC', async (t) => {
    // A real credential of nobody on node 1 for node 2: the user-mode fuzzer mutates it.
    const sealed = await run(
      [
        ...asNobody,
        ...NODE,
        fuzzer,
        JSON.stringify({
          target: `unix:${n1.socket}`,
          sealFor: [2],
          mode: 'unix',
          restricted: false,
          count: 0,
          budgetMs: 0,
          seed: 1,
          pids: [],
        }),
      ],
      20000,
    );
    t.equal(sealed.status, 0, `nobody seals a credential on node 1 ${sealed.stderr}`);
    const credential = (JSON.parse(sealed.stdout) as { token: string }).token;

    const seed = Date.now() % 1e9;
    const base = { budgetMs: RPC_BUDGET_MS, seed };
    const tls = { target: n2.address, ca: join(pki, 'ca.pem') };
    const fuzzers: [string, string[], FuzzSpec][] = [
      [
        'unix as nobody',
        asNobody,
        {
          ...base,
          target: `unix:${n1.socket}`,
          mode: 'unix',
          restricted: false,
          count: RPC_REQUESTS * 0.4,
          pids: targets(n1),
          concurrency: 8,
        },
      ],
      [
        'unix as root',
        [],
        {
          ...base,
          seed: seed + 1,
          target: `unix:${n1.socket}`,
          mode: 'unix',
          restricted: true,
          count: RPC_REQUESTS * 0.1,
          pids: targets(n1),
        },
      ],
      [
        'tls, node 1 certificate',
        inHost1,
        {
          ...base,
          seed: seed + 2,
          ...tls,
          cert: join(pki, 'n1.pem'),
          key: join(pki, 'n1.key'),
          mode: 'node',
          restricted: true,
          count: RPC_REQUESTS * 0.4,
          pids: targets(n2),
          concurrency: 8,
        },
      ],
      [
        'tls, credential',
        inHost1,
        {
          ...base,
          seed: seed + 3,
          ...tls,
          mode: 'user',
          credential,
          restricted: true,
          count: RPC_REQUESTS * 0.1,
          pids: targets(n2),
        },
      ],
    ];
    t.comment(`seed ${seed}`);
    const t0 = Date.now();
    const results = await Promise.all(
      fuzzers.map(([, prefix, spec]) =>
        run([...prefix, ...NODE, fuzzer, JSON.stringify(spec)], RPC_BUDGET_MS + 30000),
      ),
    );
    const elapsed = Date.now() - t0;

    let sent = 0;
    let reached = 0;
    const all: Record<string, Record<string, number>> = {};
    for (const [i, [name]] of fuzzers.entries()) {
      const r = results[i];
      t.notOk(r.timedOut, `${name}: the fuzzer finished (no hang)`);
      t.equal(r.status, 0, `${name}: the fuzzer exited cleanly ${r.stderr.slice(-2000)}`);
      if (r.status !== 0) continue;
      const res = JSON.parse(r.stdout) as FuzzResult;
      sent += res.sent;
      reached += res.reached;
      t.comment(
        `${name}: ${res.sent} requests in ${res.elapsedMs} ms${res.stoppedEarly ? ' (stopped at the time budget)' : ''}, ${res.reached} reached a handler, ${res.patched} made harmless; mutations ${JSON.stringify(res.mutations)}`,
      );
      t.comment(table(res.counts));
      for (const s of res.samples) t.comment(`sample: ${JSON.stringify(s)}`);
      let anyOdd = false;
      for (const [rpc, codes] of Object.entries(res.counts)) {
        const row = (all[rpc] ??= {});
        for (const [code, n] of Object.entries(codes)) row[code] = (row[code] ?? 0) + n;
        const odd = Object.keys(codes).filter((c) => !allowedCodes(rpc).includes(c));
        anyOdd ||= odd.length > 0;
        t.same(odd, [], `${name}: ${rpc} answers only documented codes ${JSON.stringify(codes)}`);
      }
      // What a failure needs to be read: the fuzzer's own stalls, and what its agent logged.
      if (anyOdd) {
        const target = name.startsWith('tls') ? n2 : n1;
        let logged: string[];
        try {
          logged = readFileSync(join(cluster.dir, `agent-${target.id}.log`), 'utf8')
            .split('\n')
            .filter((l) => /"level":[4-6]\d/.test(l))
            .slice(-40);
        } catch (err) {
          logged = [`(its log: ${(err as Error).message})`];
        }
        t.comment(`${name}: its stalls [began at ms, length ms]: ${JSON.stringify(res.stalls)}`);
        t.comment(`node ${target.id}'s agent's last warnings:\n${logged.join('\n')}`);
      }
      t.comment(
        `${name}: the latest call ended ${res.maxLateMs} ms after its deadline; the fuzzer's own event loop stalled up to ${res.maxStallMs} ms (a loaded machine)`,
      );
      // UNAVAILABLE: only the connection refused (e.g. over the connection bound), never a handler's answer.
      // "Stream refused" is HTTP/2's REFUSED_STREAM: a stream that reached no handler, sent
      // by a connection the agent is closing (a fuzzer whose loop stalled past the keepalive).
      const unavailable = res.samples.filter((s) => s.code === 'UNAVAILABLE');
      t.same(
        unavailable.filter(
          (s) =>
            !/connect|No connection|Connection dropped|Stream refused|Received RST|closed|reset|GOAWAY/i.test(
              s.details,
            ),
        ),
        [],
        `${name}: UNAVAILABLE only for connection-level refusals`,
      );
    }
    t.comment(`all fuzzers: ${sent} requests sent in ${elapsed} ms, ${reached} reached a handler`);
    t.comment(`totals:\n${table(all)}`);
    t.ok(elapsed < RPC_BUDGET_MS + 15000, `the fuzz kept to its budget (${elapsed} ms)`);
    t.ok(sent >= 1000, `enough requests were sent to mean something (${sent} of ${RPC_REQUESTS})`);
    t.ok(
      reached >= sent / 2,
      `at least half the requests reached a handler (${reached} of ${sent})`,
    );
    await checkAlive(t, cluster, mount.mountPoint, mount.process, canaries, 'after the gRPC fuzz');
  });

  t.test('the file system: random paths and operations', async (t) => {
    const listed = readdirSync(mount.mountPoint)
      .filter((e) => /^\d+$/.test(e)) // the cluster's root (1) first, then gpids
      .map(Number);
    const ctl = [...nobodys].flatMap(([n, pids]) => pids.map((p) => encodeGpid(n.id, p)));
    const mine = [...canaries].flatMap(([n, pids]) => pids.map((p) => encodeGpid(n.id, p)));
    const gpids = [...new Set([...listed.slice(0, 40), ...ctl, ...mine])];
    const py = join(cluster.dir, 'fuzz-fs.py'); // where nobody can read it
    copyFileSync(join(REPO, 'test', 'helpers', 'fuzz-fs.py'), py);
    chmodSync(py, 0o644);
    const seed = Date.now() % 1e9;
    t.comment(`seed ${seed}`);
    const spec = (count: number, budget: number, readonly: boolean) =>
      JSON.stringify({
        mount: mount.mountPoint,
        count,
        budget_s: budget,
        seed,
        readonly,
        gpids,
        ctl_gpids: ctl,
        nodes: [1, 2],
      });
    const runs: [string, string[]][] = [
      ['as nobody', [...asNobody, '/usr/bin/python3', py, spec(FS_OPS, FS_BUDGET_S, false)]],
      ['as root, read-only', ['/usr/bin/python3', py, spec(FS_ROOT_OPS, FS_ROOT_BUDGET_S, true)]],
    ];
    const errnos: Record<string, number> = {};
    for (const [name, argv] of runs) {
      const budget = name === 'as nobody' ? FS_BUDGET_S : FS_ROOT_BUDGET_S;
      const r = await run(argv, (budget + 20) * 1000);
      t.notOk(
        r.timedOut,
        `${name}: the fs fuzzer finished (no hang); last operations:\n${r.stderr.trim().split('\n').slice(-3).join('\n')}`,
      );
      t.equal(
        r.status,
        0,
        `${name}: the fs fuzzer exited cleanly ${r.stderr
          .split('\n')
          .filter((l) => !/^\d+ /.test(l))
          .join('\n')
          .slice(-2000)}`,
      );
      if (r.status !== 0) continue;
      const res = JSON.parse(r.stdout) as {
        ops: number;
        elapsed_s: number;
        stopped_early: boolean;
        counts: Record<string, Record<string, number>>;
        samples: Record<string, string[]>;
      };
      t.comment(
        `${name}: ${res.ops} operations in ${res.elapsed_s} s${res.stopped_early ? ' (stopped at the time budget)' : ''}`,
      );
      t.comment(table(res.counts));
      for (const [outcome, s] of Object.entries(res.samples))
        t.comment(`${outcome}: ${s.join(' | ')}`);
      for (const [k, v] of Object.entries(sum(res.counts))) errnos[k] = (errnos[k] ?? 0) + v;
      for (const [op, outcomes] of Object.entries(res.counts)) {
        const odd = Object.keys(outcomes).filter((o) => !FS_OUTCOMES.includes(o));
        t.same(
          odd,
          [],
          `${name}: ${op} fails only with documented errnos ${JSON.stringify(outcomes)}`,
        );
      }
      t.ok(res.ops >= 100, `${name}: it did some work (${res.ops} operations)`);
    }
    t.comment(`outcomes seen: ${JSON.stringify(errnos)}`);
    await checkAlive(t, cluster, mount.mountPoint, mount.process, canaries, 'after the fs fuzz');
  });
});
