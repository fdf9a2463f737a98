// The private test network (helpers/netns.ts): hosts in network namespaces of their own on
// 198.51.100.0/24 reach each other and nothing else; the root namespace is left as it was;
// link and traffic faults; a node (PID namespace) inside a host; everything removed after.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './helpers/cluster';
import { startNetwork, sweepLeftovers, type TestNetwork } from './helpers/netns';

if (process.getuid?.() !== 0) throw new Error('these tests need root (network namespaces)');
const nft = spawnSync('sh', ['-c', 'command -v nft'], { encoding: 'utf8' }).stdout.trim();
if (!nft) throw new Error("nft is missing: install Debian's nftables (make debian-deps)");

/** tap puts its loader into NODE_OPTIONS; the probes run as plain node. */
const NODE = ['env', '-u', 'NODE_OPTIONS', 'node', '-e'];
const PORT = 7000;
const SERVER = `const [a, p, n] = process.argv.slice(1);
// a client that timed out and went away resets its connection: not a reason to end
require('net').createServer((s) => s.on('error', () => {}).end(n + '\\n')).listen(+p, a, () => console.log('ready'));`;
const CLIENT = `const [a, p, ms] = process.argv.slice(1);
setTimeout(() => { console.log('timeout'); process.exit(2); }, +ms);
const s = require('net').connect(+p, a);
let d = '';
s.on('data', (x) => (d += x));
s.on('end', () => { console.log('answer ' + d.trim()); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(3); });`;

/** Starts a TCP server (through `prefix`) on address:port that answers `name`; killed when `t` ends. */
async function serve(
  t: Test,
  prefix: string[],
  address: string,
  name: string,
  port = PORT,
): Promise<ChildProcess> {
  const argv = [...prefix, ...NODE, SERVER, address, String(port), name];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  // killed (by teardown, or with its namespace) is expected; any exit of its own is a failure
  child.on(
    'exit',
    (code) => code !== null && t.fail(`server ${name} ended (exit ${code}): ${err}`),
  );
  await waitFor(`server ${name} on ${address}:${port}`, () => {
    if (child.exitCode !== null) throw new Error(`server ${name} ended: ${err}`);
    return out.includes('ready');
  });
  return child;
}

/** Connects (through `prefix`) to address:port: "answer <name>", "timeout" or an error code. */
function probe(prefix: string[], address: string, ms = 1000, port = PORT): string {
  const argv = [...prefix, ...NODE, CLIENT, address, String(port), String(ms)];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: ms + 10000 });
  if (r.error) throw r.error;
  return r.stdout.trim() || `no output (exit ${r.status}): ${r.stderr}`;
}

/** Output of a command (through `prefix`). */
function out(prefix: string[], argv: string[]): string {
  const all = [...prefix, ...argv];
  const r = spawnSync(all[0], all.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${all.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const netnsList = () => out([], ['ip', 'netns', 'list']);
const rootLinks = () =>
  (JSON.parse(out([], ['ip', '-j', 'link'])) as { ifindex: number; ifname: string }[])
    .map((l) => `${l.ifindex}:${l.ifname}`)
    .sort();
const rootAddrs = () =>
  (
    JSON.parse(out([], ['ip', '-j', 'addr'])) as {
      ifname: string;
      addr_info: { local: string; prefixlen: number }[];
    }[]
  )
    .flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`))
    .sort();
/** The root namespace's route to `address` (asked, not tried: a packet would leave by its default route). */
const rootRoute = (address: string) => {
  const [r] = JSON.parse(out([], ['ip', '-j', 'route', 'get', address])) as {
    dev?: string;
    type?: string;
    gateway?: string;
  }[];
  return { dev: r.dev, type: r.type, gateway: r.gateway };
};
/** Namespace identity of a process, as /proc/<pid>/ns/<kind> reads. */
const nsOf = (pid: number | 'self', kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);

/** Waits until host `from` gets an answer from host `to`'s server; a timeout shows the network's state. */
async function reachable(net: TestNetwork, from: number, to: number, what: string): Promise<void> {
  let last = '';
  try {
    await waitFor(
      what,
      () => (last = probe(net.inHost(from), net.host(to).address, 500)) === `answer host${to}`,
      10000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last probe: ${last})\n${net.describe()}`);
  }
}

async function serveAll(t: Test, net: TestNetwork): Promise<void> {
  for (const h of net.hosts) await serve(t, net.inHost(h.id), h.address, `host${h.id}`);
}

t.test('hosts reach each other; the root namespace is left as it was', async (t) => {
  const links = rootLinks();
  const addrs = rootAddrs();
  const route = rootRoute('198.51.100.2');
  const net = startNetwork(t, { hosts: 3 });
  t.same(
    net.hosts.map((h) => [h.id, h.address]),
    [
      [1, '198.51.100.1'],
      [2, '198.51.100.2'],
      [3, '198.51.100.3'],
    ],
  );
  for (const h of net.hosts) {
    t.match(net.host(h.id).netns, new RegExp(`^gproct-${process.pid}-\\d+-h${h.id}$`));
    t.same(net.inHost(h.id), ['nsenter', `--net=/run/netns/${h.netns}`, '--']);
    const info = JSON.parse(out(net.inHost(h.id), ['ip', '-j', 'addr'])) as {
      ifname: string;
      operstate: string;
      addr_info: { local: string; prefixlen: number }[];
    }[];
    t.same(
      info
        .find((l) => l.ifname === 'lo')
        ?.addr_info.map((a) => a.local)
        .includes('127.0.0.1'),
      true,
      `lo of host ${h.id}`,
    );
    t.same(
      info
        .find((l) => l.ifname === h.ifname)
        ?.addr_info.filter((a) => a.local.includes('.'))
        .map((a) => `${a.local}/${a.prefixlen}`),
      [`${h.address}/24`],
    );
    t.equal(info.length, 2, `host ${h.id} has only lo and ${h.ifname}`);
  }
  t.throws(() => net.host(4), /no test host 4/);

  await serveAll(t, net);
  for (const from of net.hosts) {
    for (const to of net.hosts)
      t.equal(
        probe(net.inHost(from.id), to.address),
        `answer host${to.id}`,
        `${from.id} -> ${to.id}`,
      );
  }

  t.same(rootLinks(), links, 'no new link in the root namespace');
  t.same(rootAddrs(), addrs, 'no new address in the root namespace');
  t.notOk(
    rootAddrs().some((a) => a.includes(' 198.51.100.')),
    'no TEST-NET-2 address in the root namespace',
  );
  t.same(rootRoute('198.51.100.2'), route, 'the root namespace has no path into the test network');
  t.not(
    rootRoute('198.51.100.2').type,
    'local',
    'a host address is not local to the root namespace',
  );

  const names = net.hosts.map((h) => h.netns).concat(net.bridgeNetns);
  net.stop();
  const left = netnsList();
  for (const n of names) t.notOk(left.includes(n), `${n} removed`);
  t.same(rootLinks(), links, 'root links after stop');
  t.same(rootAddrs(), addrs, 'root addresses after stop');
  net.stop(); // idempotent
  t.throws(
    () => net.linkDown(1),
    /^`ip -n gproct-\d+-\d+-br link set h1 down` failed \(exit \d+\): \S/,
    'a failed command is named, with its stderr',
  );
});

t.test('inHost changes the network namespace only: mounts made there are ours', async (t) => {
  const net = startNetwork(t, { hosts: 1 });
  const h = net.host(1);
  t.equal(out(net.inHost(1), ['readlink', '/proc/self/ns/mnt']), nsOf('self', 'mnt'));
  t.equal(out(net.inHost(1), ['readlink', '/proc/self/ns/pid']), nsOf('self', 'pid'));
  t.equal(
    out(net.inHost(1), ['readlink', '/proc/self/ns/net']),
    `net:[${statSync(`/run/netns/${h.netns}`).ino}]`,
  );
  t.not(out(net.inHost(1), ['readlink', '/proc/self/ns/net']), nsOf('self', 'net'));

  const dir = mkdtempSync(join(tmpdir(), 'gproc-netns-'));
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  out(net.inHost(1), [
    'sh',
    '-c',
    `mount -t tmpfs gproct "${dir}" && echo made-in-host-1 > "${dir}/f"`,
  ]);
  t.equal(
    readFileSync(join(dir, 'f'), 'utf8'),
    'made-in-host-1\n',
    'the mount is visible in our mount namespace',
  );
  t.equal(out([], ['findmnt', '-n', '-o', 'SOURCE', dir]), 'gproct');
});

t.test('linkDown / linkUp', async (t) => {
  const net = startNetwork(t, { hosts: 3 });
  await serveAll(t, net);
  t.equal(probe(net.inHost(1), '198.51.100.2'), 'answer host2');

  for (const side of ['bridge', 'host', 'both'] as const) {
    const start = Date.now();
    net.linkDown(2, side);
    t.match(
      probe(net.inHost(1), '198.51.100.2', 1000),
      /^(timeout|EHOSTUNREACH)$/,
      `host 2 unreachable from 1 (${side})`,
    );
    t.ok(Date.now() - start < 5000, 'at once (a 1 s connect timeout)');
    t.match(
      probe(net.inHost(2), '198.51.100.1', 1000),
      /^(timeout|EHOSTUNREACH|ENETUNREACH)$/,
      `host 1 unreachable from 2 (${side})`,
    );
    t.equal(probe(net.inHost(1), '198.51.100.3'), 'answer host3', `1 -> 3 unaffected (${side})`);
    net.linkUp(2, side);
    await reachable(net, 1, 2, `host 2 reachable again (${side})`);
    t.equal(probe(net.inHost(2), '198.51.100.1'), 'answer host1');
  }
});

t.test('dropTraffic / allowTraffic', async (t) => {
  const net = startNetwork(t, { hosts: 3 });
  await serveAll(t, net);
  net.dropTraffic(2);
  net.dropTraffic(2); // idempotent
  t.match(
    probe(net.inHost(1), '198.51.100.2', 1000),
    /^(timeout|EHOSTUNREACH)$/,
    'host 2 unreachable from 1',
  );
  t.match(
    probe(net.inHost(2), '198.51.100.3', 1000),
    /^(timeout|EPERM|EHOSTUNREACH)$/,
    'host 2 cannot send',
  );
  t.equal(
    probe(net.inHost(2), '198.51.100.2'),
    'answer host2',
    'host 2 still reaches itself (loopback)',
  );
  t.equal(probe(net.inHost(1), '198.51.100.3'), 'answer host3', '1 -> 3 unaffected');
  t.equal(
    spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout.includes('gproc_fault'),
    false,
    'no rule in the root namespace',
  );
  net.allowTraffic(2);
  net.allowTraffic(2); // idempotent
  await reachable(net, 1, 2, 'host 2 reachable again');
  t.equal(probe(net.inHost(2), '198.51.100.3'), 'answer host3');
});

t.test('a node: a PID namespace inside a host, entered later with nsenter -p -m -n', async (t) => {
  const net = startNetwork(t, { hosts: 3 });
  await serve(t, net.inHost(1), '198.51.100.1', 'host1');
  const node = await net.startInHost(3, ['/bin/sh', '-c', 'while :; do wait; sleep 3600; done']);
  const netns3 = `net:[${statSync(`/run/netns/${net.host(3).netns}`).ino}]`;
  t.equal(nsOf(node.initPid, 'net'), netns3, "init is in host 3's network namespace");
  t.not(nsOf(node.initPid, 'pid'), nsOf('self', 'pid'), 'init has a PID namespace of its own');
  t.match(
    readFileSync(`/proc/${node.initPid}/status`, 'utf8'),
    /\nNSpid:\t\d+\t1\n/,
    'it is pid 1 there',
  );
  t.same(node.enter, ['nsenter', '-t', String(node.initPid), '-p', '-m', '-n', '--']);

  // entering later: the node's PID namespace and /proc, host 3's network
  const seen = out(node.enter, [
    'sh',
    '-c',
    'echo $$; readlink /proc/self/ns/net; cat /proc/1/cmdline | tr "\\0" " "',
  ]).split('\n');
  t.ok(Number(seen[0]) > 1 && Number(seen[0]) < 100, `a small pid inside the node (${seen[0]})`);
  t.equal(seen[1], netns3);
  t.match(seen[2], /^\/bin\/sh -c while/);

  // a server in the node answers host 1; the node reaches host 1
  await serve(t, node.enter, '198.51.100.3', 'node-in-host3', 7001);
  t.equal(probe(net.inHost(1), '198.51.100.3', 1000, 7001), 'answer node-in-host3');
  t.equal(probe(node.enter, '198.51.100.1'), 'answer host1');
  t.equal(
    probe(net.inHost(3), '198.51.100.3', 1000, 7001),
    'answer node-in-host3',
    'host 3 outside the node shares its network',
  );

  node.stop();
  await waitFor(
    'the node gone',
    () => probe(net.inHost(1), '198.51.100.3', 500, 7001) === 'ECONNREFUSED',
  );
});

t.test('teardown removes the network when the test ends without stop()', async (t) => {
  let names: string[] = [];
  await t.test('a test that leaves its network', async (t) => {
    const net = startNetwork(t, { hosts: 2 });
    await serve(t, net.inHost(2), '198.51.100.2', 'host2');
    names = net.hosts.map((h) => h.netns).concat(net.bridgeNetns);
    t.ok(names.every((n) => netnsList().includes(n)));
  });
  const left = netnsList();
  for (const n of names) t.notOk(left.includes(n), `${n} removed by teardown`);
});

t.test('leftovers of dead runs are swept, live runs are not', async (t) => {
  const dead = spawnSync('true').pid; // ended: a dead run
  const deadName = `gproct-${dead}-1-br`;
  const liveName = 'gproct-1-1-h1'; // pid 1 exists
  const other = `other-${process.pid}`; // not this helper's
  for (const n of [deadName, liveName, other]) out([], ['ip', 'netns', 'add', n]);
  t.teardown(() => {
    for (const n of [deadName, liveName, other]) spawnSync('ip', ['netns', 'delete', n]);
  });
  // a leftover link too: it must go with its namespace
  out([], ['ip', '-n', deadName, 'link', 'add', 'br0', 'type', 'bridge']);
  const swept = sweepLeftovers();
  t.ok(swept.includes(deadName), `swept ${deadName}`);
  const left = netnsList();
  t.notOk(left.includes(deadName));
  t.ok(left.includes(liveName), 'a live run is left alone');
  t.ok(left.includes(other), 'other namespaces are left alone');
  t.notOk(swept.includes(liveName) || swept.includes(other));
});
