/**
 * A raw gRPC client of one agent for tests that play someone other than gproc's own
 * clients: a peer with the wrong certificate, a local user flooding its agent, a fuzzer. It
 * is bundled by `buildProbe` and run as its own process (in a test host's network
 * namespace, or as another user), with one JSON argument:
 *
 *   {"target": "198.51.100.2:7101" | "unix:/path", "ca"?, "cert"?, "key"?,
 *    "actAs"?: "UID:GID", "credential"?: "...", "ops": ["list", "signal", "spawn", "run"],
 *    "flood"?: {"connections": N, "calls": M}}
 *
 * It prints one JSON object: for each op, `{code, details}` (code 0: it succeeded); for a
 * flood, how many connections were refused and how the calls ended.
 */
import { ChannelCredentials, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { agentService, type AgentClient } from '../../src/proto';

interface Spec {
  target: string;
  ca?: string;
  cert?: string;
  key?: string;
  actAs?: string;
  credential?: string;
  ops?: string[];
  flood?: { connections: number; calls: number };
}

interface Outcome {
  code: number;
  details: string;
}

const spec = JSON.parse(process.argv[2]) as Spec;

function channel(): ChannelCredentials {
  if (!spec.ca) return credentials.createInsecure();
  const read = (p?: string) => (p ? readFileSync(p) : null);
  return credentials.createSsl(readFileSync(spec.ca), read(spec.key), read(spec.cert), {
    checkServerIdentity: () => undefined,
  });
}

function client(): AgentClient {
  const { Client } = agentService();
  // A channel of its own each: grpc-js would share one connection between equal channels.
  return new Client(spec.target, channel(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.probe-instance': Math.random(),
  });
}

function metadata(): Metadata {
  const md = new Metadata();
  if (spec.actAs) md.set('gproc-act-as', spec.actAs);
  if (spec.credential) md.set('gproc-credential', spec.credential);
  return md;
}

const deadline = () => ({ deadline: Date.now() + 5000 });
const outcome = (err: ServiceError | null): Outcome =>
  err ? { code: err.code, details: err.details } : { code: 0, details: '' };

function unary(c: AgentClient, op: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const done = (err: ServiceError | null) => resolve(outcome(err));
    switch (op) {
      case 'info':
        return c.GetNodeInfo({}, metadata(), deadline(), done);
      case 'list':
        return c.GetSnapshot({}, metadata(), deadline(), done);
      case 'signal':
        return c.Signal(
          { targets: [{ pid: 1, starttime: 0 }], signal: 0 },
          metadata(),
          deadline(),
          done,
        );
      case 'spawn':
        return c.Spawn({ argv: ['true'] }, metadata(), deadline(), done);
      case 'run': {
        const call = c.Run(metadata(), deadline());
        let exit: number | undefined;
        call.on('data', (m: { kind: string; exit?: { code?: number } }) => {
          if (m.kind === 'exit') exit = m.exit?.code ?? -1;
        });
        call.on('error', (err: ServiceError) => resolve(outcome(err)));
        call.on('end', () => resolve({ code: 0, details: `exit ${exit}` }));
        call.write({ start: { argv: ['true'] } });
        call.end();
        return;
      }
      default:
        return resolve({ code: -1, details: `unknown op ${op}` });
    }
  });
}

async function flood(f: { connections: number; calls: number }): Promise<Record<string, number>> {
  const clients = Array.from({ length: f.connections }, client);
  const counts: Record<string, number> = {};
  let issued = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (issued < f.calls) {
        issued++;
        const o = await unary(c, 'list');
        counts[o.code] = (counts[o.code] ?? 0) + 1;
      }
    }),
  );
  for (const c of clients) c.close();
  return counts;
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  if (spec.flood) out.flood = await flood(spec.flood);
  const c = client();
  for (const op of spec.ops ?? []) out[op] = await unary(c, op);
  c.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

void main();
