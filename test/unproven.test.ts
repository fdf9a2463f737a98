// Connections that prove nothing: half-open TCP connections to an agent's TLS port are
// bounded by address and closed when their handshake takes too long, so a peer cannot use
// up the agent's descriptors; the agent keeps answering.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitAddress } from '../src/config';
import { defaults } from '../src/defaults';
import { startCluster, waitFor } from './helpers/cluster';

t.test('half-open connections are bounded and time out', async (t) => {
  const cluster = await startCluster(t, { nodes: 1 });
  const node = cluster.node(1);
  const { host, port } = splitAddress(node.address);
  const bound = defaults.limits.unprovenPerAddress;
  const sockets: Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: bound + 100 },
      () =>
        new Promise<void>((resolve) => {
          const s = connect({ host, port }, () => resolve());
          s.on('error', () => resolve());
          s.on('close', () => closed++);
          sockets.push(s);
        }),
    ),
  );
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  await waitFor('the connections over the bound closed', () => closed >= 100 || undefined, 5000);
  t.ok(
    closed >= 100 && closed < bound,
    `the ${closed} connections over the bound of ${bound} are closed at once`,
  );
  t.ok(await node.client.nodeInfo(), 'the agent answers meanwhile');
  const start = Date.now();
  await waitFor(
    'the handshakes to time out',
    () => closed === bound + 100 || undefined,
    defaults.tlsHandshakeTimeoutMs + 5000,
  );
  t.ok(
    Date.now() - start <= defaults.tlsHandshakeTimeoutMs + 4000,
    `every half-open connection closed within the handshake timeout (${Date.now() - start} ms)`,
  );
  t.match(
    readFileSync(join(cluster.dir, 'audit-1.log'), 'utf8'),
    new RegExp(`more than ${bound} connections from address 127\\.0\\.0\\.1 \\(handshaking\\)`),
    'audited',
  );
});
