// A caller whose process stalls past the agent's keepalive (a loaded machine, a paused
// debugger) has its connection dropped by the agent, as one that vanished: its open calls
// must end UNAVAILABLE (the connection was lost), never INTERNAL. Over TLS and the Unix socket,
// two calls on each connection.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { defaults } from '../src/defaults';
import { buildProbe, startCluster } from './helpers/cluster';

/** Long enough for a keepalive ping to go unanswered past its timeout, with a second to spare. */
const STALL_MS = defaults.keepaliveTimeMs + defaults.keepaliveTimeoutMs + 2000;

t.test('the calls of a caller that stalls past the keepalive end UNAVAILABLE', async (t) => {
  const cluster = await startCluster(t, { nodes: 1 });
  const [n1] = cluster.nodes;
  const pki = join(cluster.dir, 'pki');
  const caller = buildProbe(cluster.dir, 'stalled-caller');
  const tls = { ca: join(pki, 'ca.pem'), cert: join(pki, 'n1.pem'), key: join(pki, 'n1.key') };
  const calls = [
    { target: n1.address, ...tls, actAs: '65534:65534' },
    { target: n1.address, ...tls, actAs: '65534:65534' },
    { target: `unix:${n1.socket}` },
    { target: `unix:${n1.socket}` },
  ];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      caller[0],
      [...caller.slice(1), JSON.stringify({ calls, stallMs: STALL_MS })],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const watchdog = setTimeout(() => child.kill('SIGKILL'), STALL_MS + 30_000);
    child.once('close', (code) => {
      clearTimeout(watchdog);
      if (code === 0) resolve(text);
      else reject(new Error(`the stalled caller exited ${code}`));
    });
  });
  const ends = JSON.parse(out) as { code: number; details: string }[];
  for (const [i, end] of ends.entries()) {
    const via = calls[i].target.startsWith('unix:') ? 'the Unix socket' : 'TLS';
    t.equal(
      end.code,
      status.UNAVAILABLE,
      `a Run over ${via} ends UNAVAILABLE, not INTERNAL (${end.code}: ${end.details})`,
    );
  }
});
