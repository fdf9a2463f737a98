// The heartbeat monitor (src/liveness/monitor.ts) against a real responder on loopback: a
// node whose responder closes (nothing listens on its port: ICMP port unreachable) is down
// within a few intervals, far sooner than downAfterMs; it is up again at its first answer;
// a node that never answered is not judged down. No root, no agent.
import t from 'tap';
import { createSocket } from 'node:dgram';
import { LivenessMonitor } from '../../src/liveness/monitor';
import { respond } from '../../src/liveness/responder';

/** A UDP port on loopback that nothing listens on (bound, read, then closed). */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(r));
  return port;
}

async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

t.test('a responder that goes away is down at the next pings, and up at its return', async (t) => {
  const port = await freePort();
  const opts = { host: '127.0.0.1', port, node: 7, procRoot: '/proc' };
  let responder = await respond(opts);
  const downAfterMs = 5000; // long: only the refusal can make it down within the test's bound
  const m = new LivenessMonitor(
    [{ id: 7, name: 'n7', address: `127.0.0.1:${port}`, socket: '' }],
    50,
    downAfterMs,
  );
  t.teardown(() => m.close());
  const changes: string[] = [];
  m.on('change', (node, state) => changes.push(`${node}:${state}`));

  await until('first answer', () => m.health(7).lastAnswerMs !== undefined, 2000);
  t.equal(m.health(7).state, 'up', 'up while it answers');
  t.equal(m.health(7).processes! > 0, true, 'its process count came with the answer');

  responder.close();
  const downMs = await until('down', () => m.isDown(7), 2000);
  t.ok(
    downMs < 1000,
    `down ${Math.round(downMs)} ms after its port closed (downAfterMs ${downAfterMs})`,
  );

  responder = await respond(opts);
  t.teardown(() => responder.close());
  await until('up again', () => m.health(7).state === 'up', 2000);
  t.same(changes, ['7:down', '7:up'], 'one change each way');
});

t.test('a node that never answered is not judged down by a refusal', async (t) => {
  const port = await freePort();
  const m = new LivenessMonitor(
    [{ id: 8, name: 'n8', address: `127.0.0.1:${port}`, socket: '' }],
    50,
    5000,
  );
  t.teardown(() => m.close());
  await new Promise((r) => setTimeout(r, 400)); // several refused pings
  t.equal(m.health(8).lastAnswerMs, undefined, 'it never answered');
  t.equal(m.isDown(8), false, 'not down: left to its calls');
});
