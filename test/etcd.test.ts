/**
 * Membership through etcd (spec section 2), with a real etcd server (Debian's etcd-server)
 * and real agents, each node a host of its own on a test network (helpers/netns.ts), the
 * view mounted on a login host that is no node (host 4, which also runs etcd):
 * - two nodes register, the view lists them; a third joins: it is up in the view, with
 *   its processes, within 2 s of its registration;
 * - its agent is killed: `down` within 2 s, and gone (no nodes/<id>, no processes) when its
 *   lease ends;
 * - a registration that claims another node's address is dropped: the certificate wins;
 * - the CLI on the login host: `gproc nodes`, `gproc run --node`, `gproc kill` as root (with
 *   the login host's certificate), and a clear refusal for an ordinary user;
 * - etcd stopped: the view keeps the nodes it had, past any lease's end.
 * Each node's agent socket lives on a tmpfs of the node's own, so nothing on the login host
 * reaches an agent except over the network.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from '../src/cli/certs';
import type { NodeConfig } from '../src/config';
import { defaults } from '../src/defaults';
import { decodeGpid } from '../src/gpid';
import {
  agentCommand,
  hostPidsIn,
  inNamespaces,
  launchNode,
  type LaunchedNode,
} from '../src/up/nodes';
import { GPROC, requireRealParts, waitFor } from './helpers/cluster';
import { startNetwork } from './helpers/netns';

requireRealParts();

const LOGIN = 4; // the login host: etcd, the mount and the CLI; no agent
const ETCD_ADDRESS = `198.51.100.${LOGIN}:2379`;
const ETCD = `https://${ETCD_ADDRESS}`;
const PREFIX = '/gproc-test/';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

t.test('membership through etcd, seen from a login host', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gproc-etcd-'));
  chmodSync(dir, 0o755); // the cluster file is read by the CLI run as nobody
  // A failed run keeps its logs (etcd, agents, mount) for a look.
  t.teardown(() =>
    t.passing() ? rmSync(dir, { recursive: true, force: true }) : t.comment(`logs kept in ${dir}`),
  );
  const net = startNetwork(t, { hosts: LOGIN });
  const inLogin = net.inHost(LOGIN);

  const nodes: NodeConfig[] = [1, 2, 3].map((id) => ({
    id,
    name: `n${id}`,
    address: `198.51.100.${id}:7101`,
    socket: join(dir, `run-${id}`, 'agent.sock'),
  }));
  // The login host's own certificate: an id no agent registers, its host name as name
  // (the mount there expands `{name}` so: transport.ts ownTls).
  const loginCert = {
    id: 100,
    name: hostname(),
    address: `198.51.100.${LOGIN}:7101`,
    socket: '/nonexistent',
  };
  // etcd serves TLS with a certificate of the cluster CA too (the clients check it with the CA).
  const etcdCert = { id: 200, name: 'etcd', address: ETCD_ADDRESS, socket: '/nonexistent' };
  const tls = makeCertificates(join(dir, 'pki'), [...nodes, loginCert, etcdCert]);
  const configPath = join(dir, 'cluster.json');
  writeFileSync(
    configPath,
    JSON.stringify({ membership: { etcd: [ETCD], prefix: PREFIX }, tls }, null, 2),
  );
  chmodSync(configPath, 0o644);

  // etcd on the login host, data in the temp dir.
  let etcd: ChildProcess;
  const startEtcd = () => {
    const etcdLog = openSync(join(dir, 'etcd.log'), 'a');
    etcd = spawn(
      inLogin[0],
      [
        ...inLogin.slice(1),
        'etcd',
        '--name',
        'test',
        '--data-dir',
        join(dir, 'etcd-data'),
        '--listen-client-urls',
        ETCD,
        '--advertise-client-urls',
        ETCD,
        '--listen-peer-urls',
        'http://127.0.0.1:2380',
        '--initial-advertise-peer-urls',
        'http://127.0.0.1:2380',
        '--initial-cluster',
        'test=http://127.0.0.1:2380',
        '--cert-file',
        join(dir, 'pki', 'etcd.pem'),
        '--key-file',
        join(dir, 'pki', 'etcd.key'),
      ],
      { stdio: ['ignore', etcdLog, etcdLog] },
    );
    closeSync(etcdLog);
  };
  const stopEtcd = async () => {
    if (etcd.exitCode === null && etcd.signalCode === null) {
      etcd.kill('SIGKILL');
      await new Promise((r) => etcd.once('exit', r));
    }
  };
  t.teardown(stopEtcd);
  startEtcd();
  const etcdctl = (...args: string[]) =>
    spawnSync(
      inLogin[0],
      [...inLogin.slice(1), 'etcdctl', `--endpoints=${ETCD}`, `--cacert=${tls.ca}`, ...args],
      {
        encoding: 'utf8',
        timeout: 10000,
      },
    );
  await waitFor(
    'etcd to answer',
    () => {
      if (etcd.exitCode !== null) throw new Error(`etcd ended: ${readLog(dir, 'etcd.log')}`);
      return etcdctl('endpoint', 'health').status === 0;
    },
    20000,
  );

  await t.test(
    'an agent must say what it registers, and be the node its certificate names',
    async (t) => {
      const agent = (args: string[]) =>
        spawnSync(GPROC[0], [...GPROC.slice(1), 'agent', '--config', configPath, ...args], {
          encoding: 'utf8',
          timeout: 20000,
        });
      const bare = agent(['--node', '1']);
      t.equal(bare.status, 1);
      t.match(bare.stderr, /has "membership": give this node's --name and --address/);
      const badAddress = agent(['--node', '1', '--name', 'n1', '--address', 'nowhere']);
      t.match(badAddress.stderr, /^gproc: --address: "nowhere" is not host:port/);
      // Node 2 with node 1's certificate (`{name}` picks n1.pem): the certificate wins.
      const liar = agent(['--node', '2', '--name', 'n1', '--address', '127.0.0.1:7999']);
      t.equal(liar.status, 1);
      t.match(liar.stderr, /n1\.pem is the certificate of node 1, not of node 2/);
    },
  );

  await t.test('gproc certs makes one certificate at a time when nodes register', async (t) => {
    const out = join(dir, 'more-pki');
    const certs = (args: string[]) =>
      spawnSync(
        GPROC[0],
        [...GPROC.slice(1), 'certs', '--config', configPath, '--out', out, ...args],
        {
          encoding: 'utf8',
        },
      );
    const none = certs([]);
    t.equal(none.status, 1);
    t.match(none.stderr, /has "membership": give --node ID, --name and --address/);
    const one = certs(['--node', '5', '--name', 'n5', '--address', '198.51.100.5:7101']);
    t.equal(one.status, 0, one.stderr);
    const san = spawnSync(
      'openssl',
      ['x509', '-in', join(out, 'n5.pem'), '-noout', '-ext', 'subjectAltName'],
      {
        encoding: 'utf8',
      },
    );
    t.match(san.stdout, /IP Address:198\.51\.100\.5, URI:urn:gproc:node:5/);
  });

  const launched = new Map<number, LaunchedNode>();
  const agentOptions = (n: NodeConfig) => ({
    id: n.id,
    configPath,
    logFile: join(dir, `agent-${n.id}.log`),
    auditLog: join(dir, `audit-${n.id}.log`),
    stateDir: join(dir, `state-${n.id}`),
    gproc: GPROC,
    agentArgs: ['--name', n.name, '--address', n.address, '--socket', n.socket],
  });
  const startNode = async (n: NodeConfig) => {
    mkdirSync(join(dir, `run-${n.id}`), { recursive: true });
    const node = await launchNode({
      ...agentOptions(n),
      simulate: true,
      prefix: net.inHost(n.id),
      bootOffset: n.id * 1000,
      hostname: n.name,
      // The socket's directory is the node's own: the login host cannot reach it.
      preamble: `mount -t tmpfs tmpfs ${join(dir, `run-${n.id}`)} && sleep ${3000 + n.id} &`,
    });
    launched.set(n.id, node);
    t.teardown(() => node.stop());
    return node;
  };
  const registeredAt = (id: number) =>
    waitFor(`node ${id}'s registration`, () => {
      const line = readLog(dir, `agent-${id}.log`)
        .split('\n')
        .find((l) => l.includes('registered in etcd'));
      return line ? (JSON.parse(line) as { time: number }).time : undefined;
    });
  await Promise.all(nodes.slice(0, 2).map(startNode));
  await Promise.all([registeredAt(1), registeredAt(2)]);
  t.notOk(existsSync(nodes[0].socket), "a node's socket is not on the login host");

  // The mount on the login host: no --node, no agent socket here.
  const mnt = mkdtempSync(join(tmpdir(), 'gproc-mnt-'));
  const mountLog = join(dir, 'mount.log');
  const ml = openSync(mountLog, 'a');
  const env = { ...process.env };
  delete env.GPROC_NODE;
  const mount = spawn(
    inLogin[0],
    [...inLogin.slice(1), ...GPROC, 'mount', '--config', configPath, mnt],
    {
      stdio: ['ignore', ml, ml],
      env,
    },
  );
  closeSync(ml);
  t.teardown(async () => {
    if (mount.exitCode === null && mount.signalCode === null) {
      mount.kill('SIGINT');
      await new Promise((r) => mount.once('exit', r));
    }
    rmSync(mnt, { recursive: true, force: true });
  });
  const view = () => {
    const names = readdirSync(mnt);
    const byNode = new Map<number, number[]>();
    for (const e of names.filter((n) => /^\d+$/.test(n) && n !== '1')) {
      const { node } = decodeGpid(Number(e));
      byNode.set(node, [...(byNode.get(node) ?? []), Number(e)]);
    }
    const listed = readdirSync(join(mnt, 'nodes')).map(Number);
    const state = (id: number) => {
      try {
        return readFileSync(join(mnt, 'nodes', String(id), 'state'), 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    return { byNode, listed, state };
  };
  const cmdlines = (gpids: number[]) =>
    gpids.map((g) => {
      try {
        return readFileSync(join(mnt, String(g), 'cmdline'), 'latin1').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    });
  const sees = (id: number) => {
    const v = view();
    return (
      v.listed.includes(id) &&
      v.state(id) === 'up' &&
      cmdlines(v.byNode.get(id) ?? []).some((c) => c.startsWith(`sleep ${3000 + id}`))
    );
  };
  await waitFor('the view of nodes 1 and 2', () => sees(1) && sees(2), 20000);
  t.same(view().listed, [1, 2], 'the view lists the two registered nodes');
  t.notOk(view().byNode.has(3), 'no processes of an unregistered node');

  await t.test('a node that joins is in the view within 2 s', async (t) => {
    const launchedAt = Date.now();
    await startNode(nodes[2]);
    const at = await registeredAt(3);
    await waitFor('node 3 in the view', () => sees(3), 20000);
    const seenAfterMs = Date.now() - at;
    t.comment(
      `node 3 registered ${at - launchedAt} ms after its launch; up in the view with its processes ${seenAfterMs} ms after it registered`,
    );
    t.ok(seenAfterMs <= 2000, `seen ${seenAfterMs} ms after its registration (at most 2000)`);
    t.same(view().listed, [1, 2, 3]);
  });

  await t.test(
    'a node whose agent stops is down within 2 s, then gone with its lease',
    async (t) => {
      const init = launched.get(3)!.initPid;
      const agent = hostPidsIn(init).find((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('\0agent\0'),
      );
      t.ok(agent, "node 3's agent found");
      // SIGKILL: it cannot revoke its lease; the lease has to run out.
      process.kill(agent!, 'SIGKILL');
      const killedAt = Date.now();
      await waitFor('node 3 down', () => view().state(3) === 'down', 10000);
      const downMs = Date.now() - killedAt;
      t.comment(`node 3 down in the view ${downMs} ms after its agent was killed`);
      t.ok(downMs <= 2000, `down after ${downMs} ms (at most 2000)`);
      const ttlMs = defaults.membershipLeaseTtlS * 1000;
      await waitFor(
        'node 3 gone',
        () => {
          const v = view();
          return !v.listed.includes(3) && !v.byNode.has(3);
        },
        ttlMs + 5000,
      );
      const goneMs = Date.now() - killedAt;
      t.comment(
        `node 3 gone from the view ${goneMs} ms after its agent was killed (lease TTL ${ttlMs} ms)`,
      );
      t.ok(goneMs <= ttlMs + 2000, `gone after ${goneMs} ms (lease ${ttlMs} ms, + 2000)`);
      t.ok(sees(1) && sees(2), 'the other nodes stay');

      // It comes back (a new agent, a new lease), then stops cleanly: its lease is revoked.
      const [nsenter, ...args] = inNamespaces(init);
      spawn(nsenter, [...args, '/bin/sh', '-c', agentCommand(agentOptions(nodes[2]))], {
        stdio: 'ignore',
        detached: true,
      }).unref();
      await waitFor('node 3 back in the view', () => sees(3), 20000);
      const again = hostPidsIn(init).find((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('\0agent\0'),
      );
      process.kill(again!, 'SIGTERM');
      const stoppedAt = Date.now();
      await waitFor('node 3 gone after a clean stop', () => !view().listed.includes(3), 10000);
      const leftMs = Date.now() - stoppedAt;
      t.comment(
        `node 3 gone ${leftMs} ms after its agent was stopped with SIGTERM (lease revoked)`,
      );
      t.ok(leftMs <= 2000, `gone after ${leftMs} ms (at most 2000: no waiting for the lease)`);
    },
  );

  await t.test('a registration whose certificate says otherwise is dropped', async (t) => {
    // Node 7 "registers" at node 2's address: node 2's agent proves it is node 2.
    const put = etcdctl(
      'put',
      `${PREFIX}nodes/7`,
      JSON.stringify({ id: 7, name: 'n7', address: nodes[1].address }),
    );
    t.equal(put.status, 0, `etcdctl put: ${put.stderr}`);
    // Nobody reads the view meanwhile: the mount asks a node that joins at once.
    await waitFor(
      'the impostor dropped',
      () =>
        readLog(dir, 'mount.log').includes(
          "registration dropped: the agent's certificate names another node",
        ),
      5000,
    );
    t.notOk(view().listed.includes(7), 'not in nodes/');
    t.match(
      readLog(dir, 'mount.log'),
      /"node":7,"address":"198\.51\.100\.2:7101".*has a certificate for node 2, not node 7/,
      'the mount logs which registration it dropped and why',
    );
    t.notOk(view().byNode.has(7), 'no processes listed for it');
    t.ok(sees(2), 'node 2 itself is untouched');
    etcdctl('del', `${PREFIX}nodes/7`);
  });

  await t.test('the CLI on the login host', async (t) => {
    const cli = (args: string[], as: string[] = []) =>
      spawnSync(inLogin[0], [...inLogin.slice(1), ...as, ...GPROC, ...args], {
        encoding: 'utf8',
        env: { ...env, GPROC_CONFIG: configPath },
        timeout: 20000,
      });
    const nodesOut = cli(['nodes']);
    t.equal(nodesOut.status, 0, `gproc nodes: ${nodesOut.stderr}`);
    t.match(nodesOut.stdout, /^1\s+n1\s+198\.51\.100\.1:7101\s+up\s/m);
    t.match(nodesOut.stdout, /^2\s+n2\s+198\.51\.100\.2:7101\s+up\s/m);
    t.notMatch(nodesOut.stdout, /^3\s/m, 'the node whose lease ended is not listed');

    const run = cli([
      'run',
      '--node',
      '2',
      '--',
      'sh',
      '-c',
      'echo hello from $(hostname) $GPROC_NODE',
    ]);
    t.equal(run.status, 0, `gproc run: ${run.stderr}`);
    t.equal(run.stdout, 'hello from n2 2\n', 'ran on node 2 (its host name, its GPROC_NODE)');

    // A process started through the view, killed from the login host's CLI.
    const spawned = spawnSync(
      'python3',
      [
        '-c',
        'import os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nos.write(fd,b"sleep 4444\\n")\nprint(os.read(fd,64).decode().strip())',
        join(mnt, 'nodes', '2', 'spawn'),
      ],
      { encoding: 'utf8' },
    );
    t.equal(spawned.status, 0, `spawn: ${spawned.stderr}`);
    const gpid = Number(spawned.stdout.trim());
    t.equal(decodeGpid(gpid).node, 2, 'started on node 2');
    await waitFor('the started process listed', () => existsSync(join(mnt, String(gpid))));
    const kill = cli(['kill', '-KILL', String(gpid)]);
    t.equal(kill.status, 0, `gproc kill: ${kill.stderr}`);
    await waitFor('the killed process gone', () => !readdirSync(mnt).includes(String(gpid)));
    t.pass('killed from the login host');

    // An ordinary user has no node here to vouch for them: a clear refusal, no hang.
    const user = cli(['run', '--node', '2', '--', 'true'], NOBODY);
    t.equal(user.status, 1, 'refused');
    t.match(
      user.stderr,
      /^gproc: this machine is no node: reaching node 2 as a user needs a credential/,
    );
    const userNodes = cli(['nodes'], NOBODY);
    t.match(
      userNodes.stdout,
      /^2\s+n2\s+198\.51\.100\.2:7101\s+up\s/m,
      'gproc nodes works for a user',
    );
  });

  await t.test('while etcd is unreachable the view keeps the last membership', async (t) => {
    await stopEtcd();
    const until = Date.now() + defaults.membershipLeaseTtlS * 1000 + 2000;
    let checks = 0;
    while (Date.now() < until) {
      const v = view();
      t.same(v.listed, [1, 2], 'nodes listed');
      if (!(sees(1) && sees(2))) t.fail('nodes 1 and 2 up with their processes');
      checks++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    t.ok(checks >= defaults.membershipLeaseTtlS, `${checks} checks over more than a lease`);
    t.match(readLog(dir, 'mount.log'), /keeping the last membership seen/);
    const cli = spawnSync(
      inLogin[0],
      [...inLogin.slice(1), ...GPROC, 'nodes', '--config', configPath],
      {
        encoding: 'utf8',
        timeout: 20000,
      },
    );
    t.equal(cli.status, 1, 'the CLI says it cannot list the nodes');
    t.match(cli.stderr, /^gproc: cannot read the nodes from etcd/);
  });

  await t.test('when etcd is back, registrations and the watch resume', async (t) => {
    startEtcd();
    await waitFor('etcd to answer again', () => etcdctl('endpoint', 'health').status === 0, 20000);
    // The agents register again (or renew) by themselves: both keys are there, and stay
    // past a lease's end.
    const keys = () =>
      etcdctl('get', '--prefix', '--keys-only', `${PREFIX}nodes/`)
        .stdout.split('\n')
        .filter(Boolean);
    await waitFor('both nodes registered again', () => keys().length === 2, 20000);
    await new Promise((r) => setTimeout(r, defaults.membershipLeaseTtlS * 1000 + 1000));
    t.same(keys(), [`${PREFIX}nodes/1`, `${PREFIX}nodes/2`], 'both registered past a lease');
    // The mount's watch is back: a node that registers now shows up.
    etcdctl(
      'put',
      `${PREFIX}nodes/9`,
      JSON.stringify({ id: 9, name: 'n9', address: '198.51.100.9:7101' }),
    );
    await waitFor('node 9 in the view', () => view().listed.includes(9), 15000);
    t.pass('a registration made after etcd came back is in the view');
    etcdctl('del', `${PREFIX}nodes/9`);
    await waitFor('node 9 gone', () => !view().listed.includes(9), 5000);
    t.ok(sees(1) && sees(2), 'nodes 1 and 2 still up with their processes');
  });
});

function readLog(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch {
    return '';
  }
}
