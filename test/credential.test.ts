// Credentials sealed by a node for its users (src/identity/credential.ts): what an agent
// accepts, and every way a token can be wrong. Certificates come from gproc certs' own code.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificates } from '../src/cli/certs';
import { nodeIdOf, nodeUri } from '../src/identity/certificate';
import {
  CredentialError,
  loadSealer,
  open,
  seal,
  type CredentialClaims,
} from '../src/identity/credential';

const dir = t.testdir();
const nodes = [1, 2].map((id) => ({
  id,
  name: `n${id}`,
  address: `198.51.100.${id}:7101`,
  socket: `/x/${id}`,
}));
makeCertificates(join(dir, 'pki'), nodes);
makeCertificates(join(dir, 'pki'), [
  { id: 9, name: 'n9', address: '198.51.100.9:7101', socket: '/x/9' },
]);
makeCertificates(join(dir, 'other'), [nodes[0]]);
const pem = (d: string, f: string) => readFileSync(join(dir, d, f));
const sealer = (d: string, name: string) =>
  loadSealer(pem(d, `${name}.key`), pem(d, `${name}.pem`));
const ca = new X509Certificate(pem('pki', 'ca.pem'));
const now = Date.now();
const claims = (over: Partial<CredentialClaims> = {}) => ({
  node: 1,
  uid: 1000,
  gid: 100,
  groups: [4, 20],
  pid: 42,
  pgrp: 42,
  session: 40,
  aud: [2],
  iat: now,
  exp: now + 60000,
  ...over,
});
const opts = { ca, self: 2, knownNodes: new Set([1, 2]), skewMs: 30000, nowMs: now };

t.test('node ids in certificates', async (t) => {
  t.equal(nodeIdOf(new X509Certificate(pem('pki', 'n2.pem')).subjectAltName), 2);
  t.equal(nodeUri(7), 'urn:gproc:node:7');
  t.equal(nodeIdOf('IP Address:1.2.3.4'), undefined, 'no node');
  t.equal(nodeIdOf('URI:urn:gproc:node:1, URI:urn:gproc:node:2'), undefined, 'two nodes: none');
  t.equal(nodeIdOf('URI:urn:gproc:node:512'), undefined, 'out of range');
  t.equal(nodeIdOf('URI:urn:gproc:node:3x'), undefined, 'not a number');
});

t.test('a sealed credential opens on a node of its audience', async (t) => {
  const got = open(seal(claims(), sealer('pki', 'n1')), opts);
  t.match(got, { node: 1, uid: 1000, gid: 100, groups: [4, 20], pid: 42, aud: [2] });
  t.match(got.nonce, /^[0-9a-f]{32}$/);
  t.not(
    open(seal(claims(), sealer('pki', 'n1')), opts).nonce,
    got.nonce,
    'every credential has a nonce of its own',
  );
});

t.test('every way a credential can be wrong', async (t) => {
  const good = seal(claims(), sealer('pki', 'n1'));
  const [body, cert, sig] = good.split('.');
  const flip = (s: string, i: number) =>
    s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const forged = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), uid: 0 }),
  ).toString('base64url');
  const cases: [string, string, RegExp, object?][] = [
    ['a forged uid', `${forged}.${cert}.${sig}`, /signature does not verify/],
    ['a flipped signature', `${body}.${cert}.${flip(sig, 10)}`, /signature does not verify/],
    ['another CA', seal(claims(), sealer('other', 'n1')), /not signed by the cluster CA/],
    [
      'a node the cluster file lacks',
      seal(claims({ node: 9 }), sealer('pki', 'n9')),
      /node 9, which the cluster file does not hold/,
    ],
    [
      'a node claiming to be another',
      seal(claims({ node: 2 }), sealer('pki', 'n1')),
      /claims node 2 but is signed by node 1/,
    ],
    ['expired', seal(claims({ exp: now - 31000 }), sealer('pki', 'n1')), /expired/],
    [
      'issued in the future',
      seal(claims({ iat: now + 31000 }), sealer('pki', 'n1')),
      /in the future/,
    ],
    ['for another node', seal(claims({ aud: [3] }), sealer('pki', 'n1')), /not for node 2/],
    [
      'malformed claims',
      seal({ ...claims(), uid: -1 }, sealer('pki', 'n1')),
      /malformed credential claims/,
    ],
    ['two parts', `${body}.${cert}`, /malformed credential/],
    ['garbage', 'x.y.z', /malformed credential certificate/],
    ['too long', 'x'.repeat(9000), /too long/],
  ];
  for (const [name, token, why] of cases)
    t.throws(() => open(token, opts), { name: CredentialError.name, message: why }, name);
});
