import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  configPath,
  findNode,
  isLoopback,
  loadConfig,
  parseConfig,
  tlsFor,
} from '../src/config';

const good = {
  nodes: [
    { id: 1, name: 'n1', address: '127.0.0.1:7101' },
    { id: 3, name: 'n3', address: '[::1]:7103' },
  ],
};

t.test('a valid cluster file', async (t) => {
  const c = parseConfig(good, 'c.json');
  t.same(
    c.nodes.map((n) => n.id),
    [1, 3],
  );
  t.equal(findNode(c, '3').name, 'n3');
  t.equal(findNode(c, 'n1').id, 1);
  t.equal(findNode(c, 1).name, 'n1');
  t.throws(() => findNode(c, 'n9'), /unknown node "n9"; c.json has 1 \(n1\), 3 \(n3\)/);
  t.equal(c.nodes[0].socket, '/run/gproc/agent.sock', 'the default socket');
  t.same(c.admission, [], 'no admission rules: everyone everywhere');
  const a = parseConfig({
    nodes: good.nodes,
    admission: [{ nodes: ['n3', 1], users: ['alice', 1000], groups: ['hpc'] }],
  });
  t.same(
    a.admission,
    [{ nodes: [3, 1], users: ['alice', 1000], groups: ['hpc'] }],
    'admission nodes by name or id',
  );
  t.same(
    tlsFor({ ca: '/c', cert: '/k/{name}.pem', key: '/k/{id}.key' }, c.nodes[1]),
    { ca: '/c', cert: '/k/n3.pem', key: '/k/3.key' },
    '{name} and {id} stand for the node',
  );
});

t.test('refusals name the bad key', async (t) => {
  const table: [unknown, RegExp][] = [
    [[], /\(top level\): must be an object/],
    [{ nodes: [] }, /nodes: must name at least one node/],
    [{ nodes: good.nodes, extra: 1 }, /: extra: unknown key/],
    [
      { nodes: [{ id: 1, name: 'n1', address: '127.0.0.1:1', port: 2 }] },
      /nodes\[0\]\.port: unknown key/,
    ],
    [
      { nodes: [{ id: 0, name: 'n', address: '127.0.0.1:1' }] },
      /nodes\[0\]\.id: must be an integer in 1\.\.511/,
    ],
    [{ nodes: [{ id: 512, name: 'n', address: '127.0.0.1:1' }] }, /nodes\[0\]\.id/],
    [{ nodes: [{ id: 1.5, name: 'n', address: '127.0.0.1:1' }] }, /nodes\[0\]\.id/],
    [{ nodes: [{ id: '1', name: 'n', address: '127.0.0.1:1' }] }, /nodes\[0\]\.id/],
    [
      { nodes: [good.nodes[0], { id: 1, name: 'x', address: '127.0.0.1:2' }] },
      /nodes\[1\]\.id: duplicate node id 1/,
    ],
    [
      { nodes: [good.nodes[0], { id: 2, name: 'x', address: '127.0.0.1:7101' }] },
      /nodes\[1\]\.address: duplicate address/,
    ],
    [
      { nodes: [good.nodes[0], { id: 2, name: 'n1', address: '127.0.0.1:2' }] },
      /nodes\[1\]\.name: duplicate node name/,
    ],
    [
      { nodes: [{ id: 1, name: 'n1', address: 'nohost' }] },
      /nodes\[0\]\.address: "nohost" is not host:port/,
    ],
    [
      { nodes: [{ id: 1, name: 'n1', address: '127.0.0.1:70000' }] },
      /nodes\[0\]\.address: port 70000/,
    ],
    [{ nodes: [{ id: 1, name: 'bad name', address: '127.0.0.1:1' }] }, /nodes\[0\]\.name/],
    [{ nodes: good.nodes, tls: { ca: 'a', cert: 'b' } }, /tls\.key: must be the path/],
    [
      { nodes: good.nodes, tls: { ca: 'a', cert: 'b', key: 'c', pass: 'd' } },
      /tls\.pass: unknown key/,
    ],
    [
      { nodes: [{ id: 1, name: 'n1', address: '127.0.0.1:1', socket: 'rel.sock' }] },
      /nodes\[0\]\.socket: must be an absolute path/,
    ],
    [
      { nodes: [{ id: 1, name: 'n1', address: '127.0.0.1:1', socket: `/${'x'.repeat(120)}` }] },
      /nodes\[0\]\.socket/,
    ],
    [
      {
        nodes: [
          { ...good.nodes[0], socket: '/a' },
          { ...good.nodes[1], socket: '/a' },
        ],
      },
      /nodes\[1\]\.socket: duplicate socket/,
    ],
    [{ nodes: good.nodes, admission: {} }, /admission: must be an array/],
    [
      { nodes: good.nodes, admission: [{ nodes: [2], users: ['a'] }] },
      /admission\[0\]\.nodes\[0\]: no node 2/,
    ],
    [
      { nodes: good.nodes, admission: [{ nodes: [] }] },
      /admission\[0\]\.nodes: must be a non-empty array/,
    ],
    [
      { nodes: good.nodes, admission: [{ nodes: [1], users: ['a b'] }] },
      /admission\[0\]\.users: must be an array of names/,
    ],
    [{ nodes: good.nodes, admission: [{ nodes: [1], groups: [-1] }] }, /admission\[0\]\.groups/],
    [
      { nodes: good.nodes, admission: [{ nodes: [1], who: [] }] },
      /admission\[0\]\.who: unknown key/,
    ],
    ...metricsRefusals(),
  ];
  for (const [json, re] of table)
    t.throws(() => parseConfig(json, 'c.json'), re, JSON.stringify(json));
});

/** Bad `metrics` entries of a node (spec section 8), each with the key its refusal names. */
function metricsRefusals(): [unknown, RegExp][] {
  const with1 = (metrics: unknown) => ({ nodes: [{ ...good.nodes[0], metrics }, good.nodes[1]] });
  return [
    [with1('127.0.0.1:9101'), /nodes\[0\]\.metrics: must be an object/],
    [with1({ agent: '127.0.0.1:9101', web: 'x' }), /nodes\[0\]\.metrics\.web: unknown key/],
    [with1({ agent: 9101 }), /nodes\[0\]\.metrics\.agent: must be "host:port"/],
    [with1({ mount: 'nohost' }), /nodes\[0\]\.metrics\.mount: "nohost" is not host:port/],
    [with1({ mount: '127.0.0.1:0' }), /nodes\[0\]\.metrics\.mount: port 0/],
    [
      with1({ agent: '127.0.0.1:9101', mount: '127.0.0.1:9101' }),
      /nodes\[0\]\.metrics\.mount: duplicate address 127\.0\.0\.1:9101/,
    ],
    [with1({ agent: '127.0.0.1:7101' }), /nodes\[0\]\.metrics\.agent: duplicate address/],
    [
      { nodes: [{ ...good.nodes[0], metrics: { agent: '[::1]:7103' } }, good.nodes[1]] },
      /nodes\[1\]\.address: duplicate address \[::1\]:7103/,
    ],
  ];
}

t.test('metrics addresses of a node (spec section 8)', async (t) => {
  const c = parseConfig({
    nodes: [
      { ...good.nodes[0], metrics: { agent: '127.0.0.1:9101', mount: '127.0.0.1:9102' } },
      { ...good.nodes[1], metrics: { mount: '[::1]:9102' } },
    ],
  });
  t.same(c.nodes[0].metrics, { agent: '127.0.0.1:9101', mount: '127.0.0.1:9102' });
  t.same(c.nodes[1].metrics, { mount: '[::1]:9102' }, 'either daemon may have none');
  t.equal(parseConfig(good).nodes[0].metrics, undefined, 'no metrics key: no endpoints');
});

t.test('loading from a file and choosing the file', async (t) => {
  const dir = t.testdir({ 'ok.json': JSON.stringify(good), 'bad.json': '{"nodes": [' });
  t.equal(loadConfig(join(dir, 'ok.json')).nodes.length, 2);
  t.throws(() => loadConfig(join(dir, 'bad.json')), /is not JSON/);
  t.throws(() => loadConfig(join(dir, 'missing.json')), ConfigError);
  t.equal(configPath('x.json', { GPROC_CONFIG: 'y.json' }), 'x.json');
  t.equal(configPath(undefined, { GPROC_CONFIG: 'y.json' }), 'y.json');
  t.equal(configPath(undefined, {}), '/etc/gproc/cluster.json');
  writeFileSync(join(dir, 'ok.json'), '[]');
  t.throws(() => loadConfig(join(dir, 'ok.json')), /top level/);
});

t.test('loopback addresses (where --insecure is allowed)', async (t) => {
  t.ok(isLoopback('127.0.0.1:1'));
  t.ok(isLoopback('127.9.9.9:1'));
  t.ok(isLoopback('localhost:1'));
  t.ok(isLoopback('[::1]:1'));
  t.notOk(isLoopback('10.0.0.1:1'));
  t.notOk(isLoopback('example.com:1'));
});

t.test('membership through etcd instead of a nodes list', async (t) => {
  const tls = { ca: '/c.pem', cert: '/{id}.pem', key: '/{id}.key' };
  const c = parseConfig({ membership: { etcd: ['https://198.51.100.9:2379'] }, tls }, 'e.json');
  t.same(
    c.membership,
    { etcd: ['https://198.51.100.9:2379'], prefix: '/gproc/' },
    'default prefix',
  );
  t.same(c.nodes, [], 'no nodes until they are read from etcd');
  t.same(
    parseConfig({ membership: { etcd: ['http://127.0.0.1:2379/'], prefix: '/p/' } }).membership,
    { etcd: ['http://127.0.0.1:2379'], prefix: '/p/' },
    'plain http allowed (tests, private networks), the trailing slash dropped',
  );
  t.same(
    parseConfig({
      membership: { etcd: ['http://[::1]:2379'] },
      admission: [{ nodes: [4], users: ['alice'] }],
    }).admission,
    [{ nodes: [4], users: ['alice'], groups: [] }],
    'admission names nodes by id',
  );
  const table: [unknown, RegExp][] = [
    [{}, /nodes: must be an array of nodes \(or give "membership" instead\)/],
    [
      { nodes: good.nodes, membership: { etcd: ['http://127.0.0.1:2379'] } },
      /nodes: give either "nodes" or "membership", not both/,
    ],
    [{ membership: [] }, /membership: must be an object/],
    [{ membership: { etcd: [] } }, /membership\.etcd: must be a non-empty array/],
    [{ membership: { etcd: 'http://a:1' } }, /membership\.etcd: must be a non-empty array/],
    [{ membership: { etcd: ['a:2379'] } }, /membership\.etcd\[0\]: must be "https:\/\/host:port"/],
    [{ membership: { etcd: ['http://a:99999'] } }, /membership\.etcd\[0\]: port 99999/],
    [
      { membership: { etcd: ['http://a:1', 'https://b:1'] }, tls },
      /membership\.etcd: endpoints must be all https or all http/,
    ],
    [
      { membership: { etcd: ['https://a:2379'] } },
      /membership\.etcd: https endpoints need a "tls" section/,
    ],
    [{ membership: { etcd: ['http://a:1'], prefix: 'gproc' } }, /membership\.prefix: must be/],
    [{ membership: { etcd: ['http://a:1'], ttl: 5 } }, /membership\.ttl: unknown key/],
    [
      { membership: { etcd: ['http://a:1'] }, admission: [{ nodes: ['n1'] }] },
      /admission\[0\]\.nodes\[0\]: with "membership", name nodes by id/,
    ],
  ];
  for (const [json, re] of table)
    t.throws(() => parseConfig(json, 'e.json'), re, JSON.stringify(json));
});
