// Spec section 7 on real hosts: every node a network namespace of its own (198.51.100.<id>),
// its agent in its own PID namespace, mutual TLS with a certificate per node. Ordinary users
// on node 1 use the cluster with their own uid and groups (the kernel says who they are);
// peers with the wrong certificate, or none, are refused and audited; admission rules keep
// users off nodes; a user flooding its agent does not stop another's work.
import t from 'tap';
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from '../src/cli/certs';
import { encodeGpid } from '../src/gpid';
import {
  buildProbe,
  CLI,
  startCluster,
  waitFor,
  type TestCluster,
  type TestNode,
} from './helpers/cluster';
import { alive, inNode, sleeper, startMount } from './helpers/mount';

/** An ordinary user: uid, primary gid and supplementary groups. */
interface User {
  uid: number;
  gid: number;
  groups: number[];
}
/** The test user: nobody with two supplementary groups (adm, dialout). */
const ALICE: User = { uid: 65534, gid: 65534, groups: [4, 20] };
/** Another user, with no supplementary group: the admission rule keeps it off node 3. */
const BOB: User = { uid: 65533, gid: 65533, groups: [] };
/** The flooder. */
const MALLORY: User = { uid: 65532, gid: 65532, groups: [] };

/**
 * argv that runs `argv` as `user`, as a process of `node` (its PID namespace and network).
 * With `overView`, in the PID namespace of the machine's mount instead (here the host's, the
 * mount runs there with the node's network): a tool over the view resolves its own PID
 * (ps's "lookup self") in the mount's /proc, which on a real node is the one its users
 * share. From the node's PID namespace its own PID named another process, or none.
 */
function asUser(node: TestNode, user: User, argv: string[], overView = false): string[] {
  const groups = user.groups.length ? `--groups=${user.groups.join(',')}` : '--clear-groups';
  return [
    'nsenter',
    '-t',
    String(node.initPid),
    ...(overView ? [] : ['-p']),
    '-n',
    '--',
    'setpriv',
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    groups,
    ...argv,
  ];
}

function gprocAs(
  cluster: TestCluster,
  node: TestNode,
  user: User,
  args: string[],
  timeout = 30000,
) {
  // gproc ps and exec read the view: run where its mount runs (asUser).
  const overView = args[0] === 'ps' || args[0] === 'exec';
  const argv = asUser(
    node,
    user,
    [
      'env',
      '-u',
      'NODE_OPTIONS',
      `GPROC_NODE=${node.id}`,
      `GPROC_CONFIG=${cluster.configPath}`,
      'node',
      CLI,
      ...args,
    ],
    overView,
  );
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout, cwd: '/' });
}

t.test('identity and authority across real hosts', async (t) => {
  const cluster = await startCluster(t, {
    nodes: 3,
    hosts: true,
    admission: [{ nodes: [3], users: [], groups: ['adm'] }],
  });
  const [n1, n2, n3] = cluster.nodes;
  const mount = await startMount(t, cluster, { node: 1 });
  const audit = (node: TestNode) => readFileSync(join(cluster.dir, `audit-${node.id}.log`), 'utf8');

  t.test('an ordinary user with two groups, on node 1', async (t) => {
    const mine = sleeper(n3, ALICE.uid);
    t.teardown(() => inNode(n3, ['kill', '-9', String(mine)]));
    // Listed as its own: until setpriv execs sleep, the process is root's, and a listing
    // taken then shows it so for the kernel cache's lifetime.
    await waitFor('its sleep listed as its own', () => {
      try {
        return (
          statSync(`${mount.mountPoint}/${encodeGpid(3, mine)}`).uid === ALICE.uid || undefined
        );
      } catch {
        return undefined;
      }
    });

    const ps = gprocAs(cluster, n1, ALICE, [
      'ps',
      '--mount',
      mount.mountPoint,
      '-eo',
      'user:12,pid,comm',
    ]);
    t.equal(ps.status, 0, `gproc ps works for uid ${ALICE.uid}: ${ps.stderr}`);
    const rows = ps.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    const nodes = new Set(rows.map((r) => Math.floor(Number(r[1]) / 2 ** 22)));
    t.same([...nodes].sort(), [0, 1, 2, 3], 'every node listed, and the root (node 0: gpid 1)');
    t.same(
      rows.find((r) => Number(r[1]) === encodeGpid(2, 1))?.[0],
      'root',
      "node 2's init is root's, and ps says so",
    );
    t.same(
      rows.find((r) => Number(r[1]) === encodeGpid(3, mine))?.[0],
      'nobody',
      "the user's own process on node 3 is nobody's",
    );

    const top = gprocAs(cluster, n1, ALICE, [
      'exec',
      '--mount',
      mount.mountPoint,
      '--',
      'top',
      '-b',
      '-n1',
      '-w',
      '200',
    ]);
    t.equal(top.status, 0, `top works: ${top.stderr}`);
    t.match(
      top.stdout,
      new RegExp(`\\b${encodeGpid(3, mine)}\\b.*sleep`),
      "top shows the user's process of node 3",
    );

    const run = gprocAs(cluster, n1, ALICE, [
      'run',
      '--node',
      '3',
      '--',
      'sh',
      '-c',
      'id -u; id -G; echo $GPROC_NODE',
    ]);
    t.equal(run.stderr, '');
    t.equal(
      run.stdout,
      `${ALICE.uid}\n${[ALICE.gid, ...ALICE.groups].join(' ')}\n3\n`,
      'gproc run on node 3 runs with its uid and all its groups',
    );
    t.equal(run.status, 0);
  });

  t.test("gproc kill: root's process is not the user's to signal; its own is", async (t) => {
    const roots = sleeper(n2);
    const own = sleeper(n2, ALICE.uid);
    t.teardown(() => inNode(n2, ['kill', '-9', String(roots), String(own)]));
    const refused = gprocAs(cluster, n1, ALICE, ['kill', '-TERM', `2:${roots}`]);
    t.equal(refused.status, 1);
    t.match(refused.stderr, /operation not permitted/);
    await new Promise((r) => setTimeout(r, 300));
    t.ok(alive(n2, roots), "root's process lives");
    const ok = gprocAs(cluster, n1, ALICE, ['kill', '-TERM', `2:${own}`]);
    t.equal(ok.status, 0, `its own process: delivered ${ok.stderr}`);
    await waitFor('its process to end', () => !alive(n2, own) || undefined, 5000);
    t.pass('its own process ended');
    t.match(
      audit(n2),
      new RegExp(
        `"action":"signal","node":1,"uid":${ALICE.uid},"via":"credential","target":${roots},.*"result":"NOT_PERMITTED"`,
      ),
      'the refusal is audited with the node and uid that asked',
    );
  });

  t.test('admission: a rule keeps a user off node 3, and lets it run on node 2', async (t) => {
    const off = gprocAs(cluster, n1, BOB, ['run', '--node', '3', '--', 'id', '-u']);
    t.equal(off.stdout, '', 'nothing ran');
    t.equal(off.status, 77, 'refused: exit 77');
    t.match(off.stderr, /refused by node 3 .*not admitted to node 3/);
    const on = gprocAs(cluster, n1, BOB, ['run', '--node', '2', '--', 'id', '-u']);
    t.equal(on.stdout, `${BOB.uid}\n`, 'it runs on node 2');
    t.match(
      audit(n3),
      /"action":"refused".*"uid":65533.*not admitted/,
      "the refusal is in node 3's audit log",
    );
  });

  t.test(
    'peers with the wrong certificate, or none, are refused for every kind of call; the right one is not',
    async (t) => {
      const pki = join(cluster.dir, 'pki');
      const other = mkdtempSync(join(tmpdir(), 'gproc-otherca-'));
      t.teardown(() => spawnSync('rm', ['-rf', other]));
      const n1conf = cluster.config.nodes[0];
      makeCertificates(other, [n1conf]); // node 1's name and id, another CA
      makeCertificates(pki, [{ ...n1conf, name: 'n1-expired' }], '-1');
      makeCertificates(pki, [
        { id: 9, name: 'n9', address: '198.51.100.9:7101', socket: '/nonexistent' },
      ]);
      const probe = buildProbe(cluster.dir);
      const ca = join(pki, 'ca.pem');
      const ask = (spec: object) => {
        const r = spawnSync(
          'nsenter',
          [
            `--net=/run/netns/${cluster.net!.host(1).netns}`,
            '--',
            ...probe,
            JSON.stringify({
              target: n2.address,
              ops: ['list', 'signal', 'spawn', 'run'],
              ...spec,
            }),
          ],
          {
            encoding: 'utf8',
            timeout: 30000,
          },
        );
        if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
        return JSON.parse(r.stdout) as Record<string, { code: number; details: string }>;
      };
      const cert = (dir: string, name: string) => ({
        ca,
        cert: join(dir, `${name}.pem`),
        key: join(dir, `${name}.key`),
      });

      const good = ask({ ...cert(pki, 'n1'), actAs: '0:0' });
      t.same(
        Object.values(good).map((o) => o.code),
        [0, 0, 0, 0],
        `node 1's certificate, acting for root: list, signal, spawn and run succeed ${JSON.stringify(good)}`,
      );
      const cases: [string, object, RegExp][] = [
        [
          'another CA',
          { ...cert(other, 'n1'), actAs: '0:0' },
          /client certificate not signed by the cluster CA/,
        ],
        ['expired', { ...cert(pki, 'n1-expired'), actAs: '0:0' }, /client certificate has expired/],
        ['no certificate and no credential', { ca, actAs: '0:0' }, /no credential/],
        [
          'a node the cluster file lacks',
          { ...cert(pki, 'n9'), actAs: '0:0' },
          /node 9, which the cluster file does not hold/,
        ],
        ['no uid named', cert(pki, 'n1'), /node 1 named no user to act for/],
      ];
      for (const [name, spec, why] of cases) {
        const got = ask(spec);
        for (const [op, o] of Object.entries(got)) {
          t.equal(o.code, 16, `${name}: ${op} is UNAUTHENTICATED`);
          t.match(o.details, why, `${name}: ${op} says why`);
        }
        t.match(
          audit(n2),
          new RegExp(`"action":"refused".*${why.source}`),
          `${name}: the refusal is in the audit log`,
        );
      }
    },
  );

  t.test("a user flooding its agent leaves another user's ps and run working", async (t) => {
    const probe = buildProbe(cluster.dir);
    const flooder = asUser(n1, MALLORY, [
      ...probe,
      JSON.stringify({ target: `unix:${n1.socket}`, flood: { connections: 100, calls: 3000 } }),
    ]);
    const child = spawn(flooder[0], flooder.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const ended = new Promise((resolve) => child.once('exit', resolve));
    t.teardown(() => child.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 500)); // under way
    const ps = gprocAs(cluster, n1, ALICE, ['ps', '--mount', mount.mountPoint, '-e']);
    t.equal(ps.status, 0, `ps works during the flood: ${ps.stderr}`);
    t.ok(
      ps.stdout.includes(` ${encodeGpid(1, 1)} `),
      "ps lists node 1's processes during the flood",
    );
    const run = gprocAs(cluster, n1, ALICE, ['run', '--node', '1', '--', 'echo', 'still here']);
    t.equal(run.stdout, 'still here\n', 'gproc run on the flooded node works');
    t.same(
      readFileSync(`${mount.mountPoint}/nodes/1/state`, 'utf8'),
      'up\n',
      'the flooded node stays up',
    );
    await ended;
    const flood = JSON.parse(out).flood as Record<string, number>;
    t.ok(
      (flood['0'] ?? 0) > 0,
      `the flooder's calls were served in part: ${JSON.stringify(flood)}`,
    );
    t.match(
      audit(n1),
      /more than 64 connections from uid 65532/,
      'its connections beyond the bound were refused and audited',
    );
  });
});
