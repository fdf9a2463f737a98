// Spec section 7: gproc certs makes the cluster's CA and a certificate per node naming its
// id; agents and mounts speak mutual TLS from that CA; plaintext only with --insecure and
// only on loopback. (Refusals of wrong peers, on real hosts: identity.test.ts.)
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { nodeIdOf } from '../src/identity/certificate';
import { GPROC, startCluster } from './helpers/cluster';
import { inNode, startMount } from './helpers/mount';

const gproc = (args: string[]) =>
  spawnSync(GPROC[0], [...GPROC.slice(1), ...args], { encoding: 'utf8' });

function scratchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gproc-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('gproc certs: a CA, and a key and certificate per node naming its id', async (t) => {
  const dir = scratchDir('certs');
  const nodes = [
    { id: 1, name: 'a', address: '198.51.100.1:7101' },
    { id: 7, name: 'b', address: 'b.example:7101' },
  ];
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ nodes }));
  const r = gproc(['certs', '--config', join(dir, 'cluster.json'), '--out', join(dir, 'pki')]);
  t.equal(r.status, 0, r.stderr);
  const { tls } = JSON.parse(r.stdout) as { tls: { ca: string; cert: string; key: string } };
  t.same(
    tls,
    {
      ca: join(dir, 'pki/ca.pem'),
      cert: join(dir, 'pki/{name}.pem'),
      key: join(dir, 'pki/{name}.key'),
    },
    'one tls section for every node',
  );
  t.same(
    readdirSync(join(dir, 'pki'))
      .filter((f) => !f.endsWith('.srl'))
      .sort(),
    ['a.key', 'a.pem', 'b.key', 'b.pem', 'ca.key', 'ca.pem'],
  );
  const mode = (f: string) => statSync(join(dir, 'pki', f)).mode & 0o777;
  t.equal(mode('.'), 0o755, 'the directory is public');
  for (const f of ['ca.pem', 'a.pem', 'b.pem'])
    t.equal(mode(f), 0o644, `${f} is readable by everyone`);
  for (const f of ['ca.key', 'a.key', 'b.key']) t.equal(mode(f), 0o600, `${f} is root's alone`);
  const ca = new X509Certificate(readFileSync(join(dir, 'pki/ca.pem')));
  for (const [name, id, host] of [
    ['a', 1, 'IP Address:198.51.100.1'],
    ['b', 7, 'DNS:b.example'],
  ] as const) {
    const cert = new X509Certificate(readFileSync(join(dir, `pki/${name}.pem`)));
    t.equal(nodeIdOf(cert.subjectAltName), id, `${name}'s certificate names node ${id}`);
    t.match(cert.subjectAltName, host, `and its host`);
    t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by the CA');
  }
  const one = gproc([
    'certs',
    '--config',
    join(dir, 'cluster.json'),
    '--out',
    join(dir, 'pki'),
    '--node',
    'b',
  ]);
  t.same(
    JSON.parse(one.stdout).tls,
    { ca: join(dir, 'pki/ca.pem'), cert: join(dir, 'pki/b.pem'), key: join(dir, 'pki/b.key') },
    "--node: that node's files",
  );
});

t.test('mutual TLS between agents and mounts', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  t.ok(cluster.config.tls, 'the cluster speaks TLS');
  const mount = await startMount(t, cluster, { node: 1 });
  t.ok(
    readdirSync(mount.mountPoint).includes(String(encodeGpid(2, 1))),
    'the view on node 1 lists node 2 over TLS',
  );
  // A user of node 1 reaches node 2 with a credential its own agent sealed.
  const env = [
    'env',
    '-u',
    'NODE_OPTIONS',
    'GPROC_NODE=1',
    `GPROC_CONFIG=${cluster.configPath}`,
    ...GPROC.slice(3),
  ];
  const ok = inNode(cluster.node(1), [...env, 'run', '--node', '2', '--', 'echo', 'over tls']);
  t.equal(ok.stdout, 'over tls\n');
  t.equal(ok.stderr, '', 'nothing on stderr');

  // A client whose CA does not vouch for the agents' certificates.
  const other = join(cluster.dir, 'other.json');
  const otherCa = scratchDir('otherca');
  writeFileSync(join(otherCa, 'c.json'), JSON.stringify({ nodes: [cluster.config.nodes[0]] }));
  const made = JSON.parse(
    gproc(['certs', '--config', join(otherCa, 'c.json'), '--out', otherCa]).stdout,
  ).tls;
  writeFileSync(other, JSON.stringify({ nodes: cluster.config.nodes, tls: made }));
  const r = inNode(cluster.node(1), [
    'env',
    '-u',
    'NODE_OPTIONS',
    'GPROC_NODE=1',
    `GPROC_CONFIG=${other}`,
    ...GPROC.slice(3),
    'run',
    '--node',
    '2',
    '--',
    'true',
  ]);
  t.equal(r.status, 77, 'refused, which is not "does not answer" (255)');
  t.match(r.stderr, /refused by node 2 .*certificate/);
});

t.test('plaintext only with --insecure, and only on loopback', async (t) => {
  const dir = scratchDir('plain');
  const loop = join(dir, 'loop.json');
  writeFileSync(
    loop,
    JSON.stringify({
      nodes: [{ id: 1, name: 'n1', address: '127.0.0.1:1', socket: join(dir, 'a.sock') }],
    }),
  );
  const r1 = gproc(['agent', '--config', loop, '--node', '1']);
  t.equal(r1.status, 1);
  t.match(r1.stderr, /has no "tls" section: give --insecure/);
  const wide = join(dir, 'wide.json');
  writeFileSync(
    wide,
    JSON.stringify({
      nodes: [{ id: 1, name: 'n1', address: '198.51.100.1:7101', socket: join(dir, 'b.sock') }],
    }),
  );
  const r2 = gproc(['agent', '--config', wide, '--node', '1', '--insecure']);
  t.equal(r2.status, 1);
  t.match(r2.stderr, /--insecure is allowed only on loopback/);
});

t.test("gproc certs --install: root's own files, and only root may ask", async (t) => {
  const dir = scratchDir('install');
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({ nodes: [{ id: 1, name: 'a', address: '198.51.100.1:7101' }] }),
  );
  // A directory someone else made, open to all: --install makes it root's and 0755.
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  chmodSync(pki, 0o777);
  chownSync(pki, 65534, 65534);
  chmodSync(dir, 0o755);
  const asNobody = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', ...GPROC],
    { encoding: 'utf8', input: '' },
  );
  t.equal(asNobody.status, 1, 'setpriv runs gproc (no arguments: its usage, exit 1)');
  const refused = spawnSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      ...GPROC,
      'certs',
      '--install',
      '--config',
      join(dir, 'cluster.json'),
      '--out',
      pki,
    ],
    { encoding: 'utf8' },
  );
  t.equal(refused.status, 1, 'an ordinary user is refused');
  t.match(refused.stderr, /^gproc: --install writes root-only keys: run it as root/);
  t.same(readdirSync(pki), [], '...before anything is written');

  const r = gproc(['certs', '--install', '--config', join(dir, 'cluster.json'), '--out', pki]);
  t.equal(r.status, 0, r.stderr);
  const st = (f: string) => statSync(join(pki, f));
  t.equal(st('.').mode & 0o777, 0o755, 'the directory is 0755');
  for (const f of ['.', 'ca.key', 'a.key', 'ca.pem', 'a.pem'])
    t.same([st(f).uid, st(f).gid], [0, 0], `${f} is root's`);
  for (const f of ['ca.key', 'a.key']) t.equal(st(f).mode & 0o777, 0o600, `${f} is 0600`);
  for (const f of ['ca.pem', 'a.pem']) t.equal(st(f).mode & 0o777, 0o644, `${f} is 0644`);
});
