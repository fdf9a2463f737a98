/* eslint-disable @typescript-eslint/no-explicit-any -- requests and answers are whatever the
   fuzzing and breaking tests send: untyped on purpose. */
// A raw gRPC client for test/breakit.test.ts, run as another user: one JSON argument
// {target, actAs?, credential?, calls: [{m, req, writes?, keepOpen?, cancelAfterMs?, ms?}]},
// prints the outcome of each call as a JSON array.
import { ChannelCredentials, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { agentService } from '../../src/proto';
const spec = JSON.parse(process.argv[2]);
function channel(): ChannelCredentials {
  if (!spec.ca) return credentials.createInsecure();
  const read = (p?: string) => (p ? readFileSync(p) : null);
  return credentials.createSsl(readFileSync(spec.ca), read(spec.key), read(spec.cert), {
    checkServerIdentity: () => undefined,
  });
}
const { Client } = agentService();
const c: any = new Client(spec.target, channel(), {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_send_message_length': 64 << 20,
});
function md(o: any = {}) {
  const m = new Metadata();
  const a = o.actAs ?? spec.actAs;
  const cr = o.credential ?? spec.credential;
  if (a) m.set('gproc-act-as', a);
  if (cr) m.set('gproc-credential', cr);
  return m;
}
async function one(call: any): Promise<any> {
  return new Promise((resolve) => {
    if (call.m === 'Run') {
      const s = c.Run(md(call), { deadline: Date.now() + (call.ms ?? 10000) });
      const out: any = { stdout: '', stderr: '' };
      s.on('data', (m: any) => {
        if (m.kind === 'stdout') out.stdout += m.stdout.toString();
        else if (m.kind === 'stderr') out.stderr += m.stderr.toString();
        else out[m.kind] = m[m.kind];
      });
      s.on('error', (e: ServiceError) => resolve({ ...out, code: e.code, details: e.details }));
      s.on('end', () => resolve(out));
      for (const w of call.writes ?? [{ start: call.req }]) s.write(w);
      if (call.cancelAfterMs) setTimeout(() => s.cancel(), call.cancelAfterMs);
      else if (!call.keepOpen) s.end();
      return;
    }
    if (call.m === 'Events') {
      const s = c.Events({}, md(call), { deadline: Date.now() + (call.ms ?? 3000) });
      const evs: any[] = [];
      s.on('data', (e: any) => evs.push(e));
      s.on('error', (e: ServiceError) => resolve({ evs, code: e.code, details: e.details }));
      return;
    }
    c[call.m](
      call.req ?? {},
      md(call),
      { deadline: Date.now() + (call.ms ?? 10000) },
      (err: ServiceError | null, res: any) =>
        resolve(err ? { code: err.code, details: err.details } : res),
    );
  });
}
void (async () => {
  const out = [];
  for (const call of spec.calls) out.push(await one(call));
  process.stdout.write(
    JSON.stringify(out, (_k, v) =>
      v && v.type === 'Buffer' ? Buffer.from(v.data).toString() : v,
    ) + '\n',
  );
  process.exit(0);
})();
