// Spec section 7: agents accept only mutually authenticated TLS from the cluster's own CA
// (made by gproc certs); plaintext only with --insecure and only on loopback.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { GPROC, startCluster } from './helpers/cluster';
import { startMount } from './helpers/mount';

const gproc = (args: string[]) => spawnSync(GPROC[0], [...GPROC.slice(1), ...args], { encoding: 'utf8' });

/** A CA and a certificate for 127.0.0.1 made by gproc certs, in a directory of their own. */
function makeCerts(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `gproc-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hosts.json'), JSON.stringify({ nodes: [{ id: 1, name: 'x', address: '127.0.0.1:1' }] }));
  const r = gproc(['certs', '--config', join(dir, 'hosts.json'), '--out', join(dir, 'pki')]);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout).tls as { ca: string; cert: string; key: string };
}

t.test('mutual TLS from the cluster CA', async (t) => {
  const tls = makeCerts('ca1');
  t.match(readdirSync(join(tls.ca, '..')).sort().join(' '), /ca\.key ca\.pem .*node\.key node\.pem/, 'gproc certs wrote a CA and a node certificate');
  const cluster = await startCluster(t, { nodes: 2, tls });
  const mount = await startMount(t, cluster, { node: 1 });
  t.ok(readdirSync(mount.mountPoint).includes(String(encodeGpid(2, 1))), 'the view lists node 2 over TLS');
  const ok = gproc(['run', '--config', cluster.configPath, '--node', '2', '--', 'echo', 'over tls']);
  t.equal(ok.stdout, 'over tls\n');
  t.equal(ok.stderr, '', 'nothing on stderr');

  // The same agents, asked without TLS, or with a certificate of another CA.
  const plain = join(cluster.dir, 'plain.json');
  writeFileSync(plain, JSON.stringify({ nodes: cluster.config.nodes }));
  const r1 = gproc(['run', '--config', plain, '--node', '2', '--', 'true']);
  t.equal(r1.status, 255, 'a plaintext client is refused');
  const other = join(cluster.dir, 'other.json');
  writeFileSync(other, JSON.stringify({ nodes: cluster.config.nodes, tls: makeCerts('ca2') }));
  const r2 = gproc(['run', '--config', other, '--node', '2', '--', 'true']);
  t.equal(r2.status, 255, 'a client with a certificate of another CA is refused');
  t.match(r2.stderr, /certificate/);
});

t.test('plaintext only with --insecure, and only on loopback', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gproc-plain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const loop = join(dir, 'loop.json');
  writeFileSync(loop, JSON.stringify({ nodes: [{ id: 1, name: 'n1', address: '127.0.0.1:1' }] }));
  const r1 = gproc(['agent', '--config', loop, '--node', '1']);
  t.equal(r1.status, 1);
  t.match(r1.stderr, /has no "tls" section: give --insecure/);
  const wide = join(dir, 'wide.json');
  writeFileSync(wide, JSON.stringify({ nodes: [{ id: 1, name: 'n1', address: '10.255.255.1:7101' }] }));
  const r2 = gproc(['agent', '--config', wide, '--node', '1', '--insecure']);
  t.equal(r2.status, 1);
  t.match(r2.stderr, /--insecure is allowed only on loopback/);
});
