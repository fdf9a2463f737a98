/**
 * A caller whose process stalls, for test/stalled-caller.test.ts: one JSON argument
 * {calls: [{target, ca?, cert?, key?, actAs?}], stallMs}. It starts `sleep 30` with Run for
 * each entry (entries with the same target share a channel: one connection, several calls
 * on it), waits until every one has started, blocks its own event loop for `stallMs`
 * (answering no keepalive ping meanwhile), then prints how each call ended as a JSON array
 * of {code, details}.
 */
import { credentials, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { agentService } from '../../src/proto';

interface Target {
  target: string;
  ca?: string;
  cert?: string;
  key?: string;
  actAs?: string;
}
const spec = JSON.parse(process.argv[2]) as { calls: Target[]; stallMs: number };
const { Client } = agentService();

function channel(t: Target): ChannelCredentials {
  if (!t.ca) return credentials.createInsecure();
  return credentials.createSsl(
    readFileSync(t.ca),
    t.key ? readFileSync(t.key) : null,
    t.cert ? readFileSync(t.cert) : null,
    { checkServerIdentity: () => undefined },
  );
}

/** Calls to the same target share its channel (one connection). */
const clients: Record<string, InstanceType<typeof Client>> = {};
let started = 0;
const ends = spec.calls.map(
  (t) =>
    new Promise<{ code: number; details: string }>((resolve) => {
      const key = JSON.stringify(t);
      const client = (clients[key] ??= new Client(t.target, channel(t), {
        'grpc.use_local_subchannel_pool': 1,
      }));
      const md = new Metadata();
      if (t.actAs) md.set('gproc-act-as', t.actAs);
      const call = client.Run(md, { deadline: Date.now() + 60_000 });
      call.on('data', (m: { kind: string }) => {
        if (m.kind === 'started' && ++started === spec.calls.length) setTimeout(stall, 100);
      });
      call.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details }));
      call.on('end', () => resolve({ code: 0, details: 'ended' }));
      call.write({ start: { argv: ['sleep', '30'] } });
    }),
);

function stall(): void {
  const until = Date.now() + spec.stallMs;
  while (Date.now() < until); // a process held up: no I/O, no timers, no ping answered
}

void Promise.all(ends).then((out) => {
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
});
