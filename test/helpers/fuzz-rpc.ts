/**
 * A gRPC fuzzer of one agent, for test/fuzz.test.ts. It is bundled like probe.ts and run as
 * its own process (as another user, or in a test host's network namespace), with one JSON
 * argument (Spec below). It builds valid encoded requests of every RPC of gproc.v1.Agent,
 * mutates their bytes (bit flips, truncation, extreme field values, huge and invalid
 * strings, many repeated entries, unknown fields) and their call metadata, and sends the
 * raw bytes (identity serializers: nothing is re-encoded on the way).
 *
 * `restricted` (root, a node certificate, a credential): every request that decodes is
 * checked as the agent would decode it and made harmless before it is sent: signals become
 * 0, started commands become `true` (or stay `sleep 0`), dangerous environment entries go.
 *
 * It prints one JSON object: counts per RPC and status name, how many calls reached a
 * handler (were not refused by decoding), how many were sent, and samples of outcomes the
 * test looks at (INTERNAL not from decoding, UNKNOWN, UNAVAILABLE, late calls).
 */
import {
  Client,
  credentials,
  Metadata,
  status,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { Root, type Field, type INamespace, type Type } from 'protobufjs/light';
import descriptor from '../../src/proto/gproc.json';
import { CONVERSION } from '../../src/proto';

export interface FuzzSpec {
  target: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** 'unix' as the user running it; 'node': a node certificate, gproc-act-as; 'user': no certificate, gproc-credential. */
  mode: 'unix' | 'node' | 'user';
  /** Make every request harmless before sending it (see the module comment). */
  restricted: boolean;
  count: number;
  budgetMs: number;
  seed: number;
  concurrency?: number;
  /** A real credential (mode 'user'), to mutate. */
  credential?: string;
  /** pids on the target node to aim signals and reads at (canaries, 1). */
  pids: number[];
  /** Only seal a credential for `audience` and print it. */
  sealFor?: number[];
}

export interface FuzzResult {
  sent: number;
  reached: number;
  elapsedMs: number;
  stoppedEarly: boolean;
  counts: Record<string, Record<string, number>>;
  mutations: Record<string, number>;
  patched: number;
  samples: {
    rpc: string;
    code: string;
    details: string;
    mutation: string;
    metadata: string;
    hex: string;
    /** Wall-clock ms when the call began and ended (to set beside the agent's log). */
    startedAtMs: number;
    endedAtMs: number;
  }[];
  maxLateMs: number;
  /** Longest stall of the fuzzer's own event loop, ms. */
  maxStallMs: number;
  /** The stalls of a second or more: [wall-clock ms when it began, length ms]. */
  stalls: [number, number][];
}

const spec = JSON.parse(process.argv[2]) as FuzzSpec;
const root = Root.fromJSON(descriptor as INamespace);
const T = (name: string) => root.lookupType(`gproc.v1.${name}`);

/* ---------- randomness (seeded, so a failing run can be repeated) ---------- */
let seed = spec.seed >>> 0 || 1;
function rnd(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(rnd() * n);
const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)];

/* ---------- protobuf wire encoding, by hand: any value, any wire type ---------- */
function varint(v: bigint): Buffer {
  let n = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}
const tag = (field: number, wt: number) => varint(BigInt(field) * 8n + BigInt(wt));
const lenField = (field: number, body: Buffer) =>
  Buffer.concat([tag(field, 2), varint(BigInt(body.length)), body]);

const INTS = [
  0n,
  1n,
  -1n,
  2n,
  15n,
  2n ** 31n - 1n,
  2n ** 31n,
  -(2n ** 31n),
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 64n - 1n,
  4194304n,
  4194303n,
];
const hugeLen = () => pick([4096, 65536, 65536, 1 << 20, 5 << 20]);
function stringValue(): Buffer {
  switch (int(14)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.from('true');
    case 2:
      return Buffer.alloc(hugeLen(), 'A');
    case 3:
      return Buffer.from('a\0b\0');
    case 4:
      return Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]); // invalid UTF-8
    case 5:
      return Buffer.from('😀 ü 日本 \u202e\ufeff');
    case 6:
      return Buffer.from(
        pick(['..', '/', '/etc/shadow', '../../..', '/proc/1/root', '/nonexistent', '/tmp']),
      );
    case 7:
      return Buffer.from(
        pick(['PATH=/tmp', '=x', 'X=', 'LD_PRELOAD=/tmp/x.so', 'A', 'A=B=C', 'HOME=/']),
      );
    case 8:
      return Buffer.from('%s%n%x%p');
    case 9:
      return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    case 10:
      return Buffer.from(pick(['sleep', '0', 'sh', '-c', 'id', 'sleep 0', '1000']));
    case 11:
      return Buffer.alloc(int(300), 0);
    case 12:
      return Buffer.from(pick(['-1', '4294967295', 'SIGKILL', ' ', '\n', '\t']));
    default:
      return Buffer.from('x'.repeat(int(5000)));
  }
}

/** One encoded occurrence of `f` with a random or extreme value (wire type sometimes wrong). */
function fieldValue(f: Field, depth: number): Buffer {
  const wrongWire = int(20) === 0;
  if (wrongWire) {
    const wt = pick([0, 1, 2, 5]);
    if (wt === 0) return Buffer.concat([tag(f.id, 0), varint(pick(INTS))]);
    if (wt === 1) return Buffer.concat([tag(f.id, 1), Buffer.alloc(8, int(256))]);
    if (wt === 5) return Buffer.concat([tag(f.id, 5), Buffer.alloc(4, int(256))]);
    return lenField(f.id, stringValue());
  }
  f.resolve();
  if (f.resolvedType && 'fields' in f.resolvedType) {
    const body = depth < 3 && int(4) !== 0 ? message(f.resolvedType, depth + 1) : stringValue();
    return lenField(f.id, body);
  }
  switch (f.type) {
    case 'string':
    case 'bytes':
      return lenField(f.id, stringValue());
    case 'double': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(pick([NaN, Infinity, -Infinity, -0, 1e308, rnd() * 100]));
      return Buffer.concat([tag(f.id, 1), b]);
    }
    default: {
      // integers, bools and enums (unknown enum values among the extremes)
      const v = f.resolvedType
        ? pick([...INTS, 9n, 100n, 8n, 2n])
        : int(3) === 0
          ? BigInt(int(70000))
          : pick(INTS);
      if (f.repeated && int(3) === 0) {
        // packed
        const body = Buffer.concat(
          Array.from({ length: 1 + int(50) }, () => varint(int(2) ? v : pick(INTS))),
        );
        return lenField(f.id, body);
      }
      return Buffer.concat([tag(f.id, 0), varint(v)]);
    }
  }
}

/** Mutated requests stop growing here (the agent takes 4 MiB). */
const MAX_BYTES = 6 << 20;
/**
 * Repeated entries stop here: a 4 MiB request of two-byte entries (2M empty signal targets)
 * takes the agent's protobuf decoder about 3 s (measured: 2.8 s), during which it answers
 * nobody, before any bound is checked; the fuzz is about what handlers do, so repeats stay
 * small enough to decode in tens of ms (single huge strings are cheap and stay).
 */
const MAX_REPEATED_BYTES = 256 << 10;
const capped = (b: Buffer) => (b.length > MAX_BYTES ? b.subarray(0, MAX_BYTES) : b);

/** A message of type `type` made of random fields with random values. */
function message(type: Type, depth = 0): Buffer {
  const parts: Buffer[] = [];
  for (const f of type.fieldsArray) {
    if (int(2)) continue;
    const times = f.repeated ? pick([1, 1, 2, 50, 1000, 4097, 20000]) : 1;
    const one = fieldValue(f, depth);
    parts.push(
      times > 1 && int(2)
        ? Buffer.concat(
            Array(Math.min(times, Math.floor(MAX_REPEATED_BYTES / one.length) + 1)).fill(one),
          )
        : one,
    );
    for (let i = 1; i < Math.min(times, depth ? 5 : 200); i++) parts.push(fieldValue(f, depth));
  }
  return capped(Buffer.concat(parts));
}

function unknownField(): Buffer {
  const field = pick([16, 100, 1000, 2 ** 29 - 1, 3, 5, 6, 7, 19000]);
  const wt = pick([0, 1, 2, 5, 3, 4, 6, 7]);
  switch (wt) {
    case 0:
      return Buffer.concat([tag(field, 0), varint(pick(INTS))]);
    case 1:
      return Buffer.concat([tag(field, 1), Buffer.alloc(8, 7)]);
    case 2:
      return lenField(field, stringValue());
    case 5:
      return Buffer.concat([tag(field, 5), Buffer.alloc(4, 9)]);
    default:
      return Buffer.concat([tag(field, wt), Buffer.from([1, 2, 3])]); // groups and invalid wire types
  }
}

/** Mutates valid bytes of a message of `type`; names what it did. */
function mutate(bytes: Buffer, type: Type): [Buffer, string] {
  const kind = pick([
    'none',
    'bitflip',
    'bitflip',
    'truncate',
    'bytes',
    'field',
    'field',
    'field',
    'field',
    'unknown',
    'repeat',
    'random',
  ]);
  let b: Buffer = Buffer.from(bytes);
  switch (kind) {
    case 'none':
      break;
    case 'bitflip':
      if (b.length) for (let i = 1 + int(4); i > 0; i--) b[int(b.length)] ^= 1 << int(8);
      else b = Buffer.from([int(256)]);
      break;
    case 'truncate':
      b = b.subarray(0, int(b.length + 1));
      if (int(2)) b = Buffer.concat([b, Buffer.from([0x80 | int(128)])]); // a varint cut short
      break;
    case 'bytes': {
      for (let i = 1 + int(4); i > 0; i--) {
        const at = int(b.length + 1);
        const op = int(3);
        if (op === 0)
          b = Buffer.concat([
            b.subarray(0, at),
            Buffer.from([pick([0, 0xff, 0x80, 0x0a, 0x12, 0x08, int(256)])]),
            b.subarray(at),
          ]);
        else if (op === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        else if (b.length) b[Math.min(at, b.length - 1)] = int(256);
      }
      break;
    }
    case 'field': {
      const extra = Array.from({ length: 1 + int(3) }, () =>
        type.fieldsArray.length ? fieldValue(pick(type.fieldsArray), 0) : unknownField(),
      );
      b = Buffer.concat([b, ...extra]);
      break;
    }
    case 'unknown':
      b = Buffer.concat([
        int(2) ? b : Buffer.alloc(0),
        unknownField(),
        int(2) ? b : Buffer.alloc(0),
      ]);
      break;
    case 'repeat': {
      const unit = b.length
        ? b
        : fieldValue(
            pick(type.fieldsArray.length ? type.fieldsArray : T('ProcessRef').fieldsArray),
            0,
          );
      const n = Math.min(
        pick([2, 10, 1000, 5000]),
        Math.floor(MAX_REPEATED_BYTES / (unit.length + 1)) + 1,
      );
      b = Buffer.concat(Array(n).fill(unit));
      break;
    }
    case 'random':
      b = message(type);
      break;
  }
  return [capped(b), kind];
}

/* ---------- valid requests ---------- */
const enc = (type: string, obj: object) =>
  Buffer.from(T(type).encode(T(type).fromObject(obj)).finish());
const targetPids = () => (spec.pids.length ? spec.pids : [1]);
const ref = () => ({ pid: pick(targetPids()), starttime: 0 });
const spawnReq = () =>
  pick([
    { argv: ['true'] },
    { argv: ['sleep', '0'] },
    { argv: ['true'], env: ['A=b'], cwd: '/tmp' },
    { argv: ['true'], cwd: '/' },
  ]);

interface Rpc {
  name: string;
  kind: 'unary' | 'server' | 'bidi';
  req: string;
  valid(): Buffer | Buffer[];
}
const FILES = [
  ...['STAT', 'STATUS', 'STATM', 'CMDLINE', 'COMM', 'ENVIRON', 'CGROUP', 'IO', 'LIMITS'],
  ...['SMAPS_ROLLUP', 'SMAPS', 'SCHEDSTAT', 'OOM_SCORE', 'OOM_SCORE_ADJ', 'WCHAN'],
  ...['LOGINUID', 'AUTOGROUP', 'FDINFO'],
];
const RPCS: Rpc[] = [
  {
    name: 'GetNodeInfo',
    kind: 'unary',
    req: 'NodeInfoRequest',
    valid: () => enc('NodeInfoRequest', {}),
  },
  {
    name: 'GetSnapshot',
    kind: 'unary',
    req: 'SnapshotRequest',
    valid: () => enc('SnapshotRequest', {}),
  },
  {
    name: 'ReadProcessFile',
    kind: 'unary',
    req: 'ProcessFileRequest',
    valid: () =>
      enc('ProcessFileRequest', {
        process: ref(),
        file: pick(FILES),
        tid: int(3) ? 0 : pick(targetPids()),
        fd: pick([0, 1, 2, 3, 99, 0xffffffff]),
      }),
  },
  {
    name: 'ReadProcessLinks',
    kind: 'unary',
    req: 'ProcessLinksRequest',
    valid: () => enc('ProcessLinksRequest', { process: ref(), set: pick(['LINKS', 'FD', 'NS']) }),
  },
  { name: 'GetUsage', kind: 'unary', req: 'ProcessRef', valid: () => enc('ProcessRef', ref()) },
  {
    name: 'Signal',
    kind: 'unary',
    req: 'SignalRequest',
    valid: () =>
      enc('SignalRequest', {
        targets: Array.from({ length: 1 + int(3) }, ref),
        signal: pick([0, 0, 15, 9, 1, 10]),
      }),
  },
  {
    name: 'Spawn',
    kind: 'unary',
    req: 'SpawnRequest',
    valid: () => enc('SpawnRequest', spawnReq()),
  },
  { name: 'Wait', kind: 'unary', req: 'ProcessRef', valid: () => enc('ProcessRef', ref()) },
  { name: 'Events', kind: 'server', req: 'EventsRequest', valid: () => enc('EventsRequest', {}) },
  {
    name: 'Watch',
    kind: 'bidi',
    req: 'WatchRequest',
    valid: () => Array.from({ length: 1 + int(3) }, (_, i) => enc('WatchRequest', { id: i + 1 })),
  },
  {
    name: 'Seal',
    kind: 'unary',
    req: 'SealRequest',
    valid: () => enc('SealRequest', { audience: [1, 2] }),
  },
  {
    name: 'Run',
    kind: 'bidi',
    req: 'RunInput',
    valid: () => {
      const msgs = [enc('RunInput', { start: spawnReq() })];
      for (let i = int(4); i > 0; i--) {
        msgs.push(
          pick([
            enc('RunInput', { stdin: Buffer.from('hello\n') }),
            enc('RunInput', { signal: pick([0, 15, 1]) }),
            enc('RunInput', { stdinEof: true }),
          ]),
        );
      }
      msgs.push(enc('RunInput', { stdinEof: true }));
      return msgs;
    },
  },
];

/* ---------- making restricted requests harmless ---------- */
const SAFE_ARGV = [['true'], ['sleep', '0']];
const DANGEROUS_ENV =
  /^(LD_|GCONV|LOCPATH|PATH=|NLSPATH|HOSTALIASES|RES_OPTIONS|LOCALDOMAIN|MALLOC|GLIBC|TZDIR)/;
type Obj = Record<string, unknown>;

function safeSpawn(s: Obj): boolean {
  const argv = (s.argv as string[]) ?? [];
  const env = (s.env as string[]) ?? [];
  return (
    s.shellCommand === '' &&
    SAFE_ARGV.some((a) => a.length === argv.length && a.every((x, i) => x === argv[i])) &&
    env.every((e) => !DANGEROUS_ENV.test(e))
  );
}
function makeSpawnSafe(s: Obj): void {
  if (!safeSpawn(s)) {
    s.argv = ['true'];
    s.shellCommand = '';
    s.env = ((s.env as string[]) ?? []).filter((e) => !DANGEROUS_ENV.test(e));
  }
}

/** The bytes to send for a restricted caller: unchanged if the agent cannot decode them or they are harmless. */
function harmless(typeName: string, bytes: Buffer): [Buffer, boolean] {
  const type = T(typeName);
  let obj: Obj;
  try {
    obj = type.toObject(type.decode(bytes), CONVERSION);
  } catch {
    return [bytes, false]; // the agent refuses it as well: nothing reaches a handler
  }
  let unsafe = false;
  if (typeName === 'SignalRequest' && obj.signal !== 0) {
    obj.signal = 0;
    unsafe = true;
  }
  if (typeName === 'SpawnRequest' && !safeSpawn(obj)) {
    makeSpawnSafe(obj);
    unsafe = true;
  }
  if (typeName === 'RunInput') {
    if (obj.start && !safeSpawn(obj.start as Obj)) {
      makeSpawnSafe(obj.start as Obj);
      unsafe = true;
    }
    if (obj.signal !== undefined && obj.signal !== null && obj.signal !== 0) {
      obj.signal = 0;
      unsafe = true;
    }
  }
  if (!unsafe) return [bytes, false];
  const again = Buffer.from(type.encode(type.fromObject(obj)).finish());
  // Check the result the same way: it must decode to something harmless.
  const check = type.toObject(type.decode(again), CONVERSION);
  if (
    (check.signal ?? 0) !== 0 ||
    (typeName === 'SpawnRequest' && !safeSpawn(check)) ||
    (check.start && !safeSpawn(check.start as Obj))
  ) {
    throw new Error(
      `could not make a ${typeName} harmless: ${JSON.stringify(check).slice(0, 300)}`,
    );
  }
  return [again, true];
}

/* ---------- metadata ---------- */
const printable = (s: string) => s.replace(/[^ -~]/g, () => String.fromCharCode(32 + int(95)));
function mutateText(s: string): string {
  switch (int(6)) {
    case 0: {
      // flip characters
      const a = s.split('');
      for (let i = 1 + int(3); i > 0 && a.length; i--)
        a[int(a.length)] = String.fromCharCode(32 + int(95));
      return a.join('');
    }
    case 1:
      return s.slice(0, int(s.length + 1));
    case 2:
      return s + s.slice(int(s.length));
    case 3: {
      // one byte flipped, kept printable
      const a = Buffer.from(s, 'latin1');
      if (a.length) a[int(a.length)] ^= 1 << int(7);
      return printable(a.toString('latin1'));
    }
    case 4:
      return s.replace(/./g, (c) => (int(10) ? c : ''));
    default:
      return `${s}${pick(['', ' ', '.', '..', '=', 'AAAA', '.x.y'])}`;
  }
}
const ACT_AS_VALID = [
  '65534:65534',
  '65534:65534:4,20',
  '0:0',
  '1000:1000',
  '65533:65533',
  '0:0:0',
];
const ACT_AS_EXTREME = [
  '4294967295:4294967295',
  '4294967296:0',
  '99999999999:0',
  '-1:-1',
  ':',
  '',
  '0',
  '0:0:',
  ' 0:0',
  '0:0 ',
  '1e3:0',
  '0x10:0',
  '00000000001:0',
  '0:0:' + Array(64).fill(1).join(','),
  '0:0:' + Array(65).fill(1).join(','),
  '0:0:,',
  '0:0:1,,2',
  'root:root',
  '0;0',
];
function actAs(): string | undefined {
  switch (int(8)) {
    case 0:
      return undefined;
    case 1:
    case 2:
      return pick(ACT_AS_VALID);
    case 3:
    case 4:
      return pick(ACT_AS_EXTREME);
    case 5:
      return 'x'.repeat(pick([100, 4000, 9000, 70000]));
    default:
      return mutateText(pick(ACT_AS_VALID));
  }
}
function credential(): string | undefined {
  const real = spec.credential ?? 'a.b.c';
  const parts = real.split('.');
  switch (int(10)) {
    case 0:
      return undefined;
    case 1:
    case 2:
      return real;
    case 3:
    case 4:
    case 5:
      return printable(mutateText(real));
    case 6:
      return [parts[0], parts[1], parts[2].slice(0, int(parts[2].length))].join('.');
    case 7:
      return pick([
        '',
        '.',
        '..',
        '...',
        'a.b.c',
        `${parts[0]}..${parts[2]}`,
        `${parts[2]}.${parts[1]}.${parts[0]}`,
        `e30.${parts[1]}.${parts[2]}`,
        `${Buffer.from('null').toString('base64url')}.${parts[1]}.${parts[2]}`,
      ]);
    case 8:
      return 'A'.repeat(pick([8193, 9000, 70000]));
    default: {
      // flip one base64url character of one part
      const i = int(3);
      const p = parts.slice();
      const at = int(p[i].length);
      p[i] = p[i].slice(0, at) + pick('ABCabc012-_'.split('')) + p[i].slice(at + 1);
      return p.join('.');
    }
  }
}
function metadata(): [Metadata, string] {
  const md = new Metadata();
  const said: string[] = [];
  const set = (k: string, v: string | undefined) => {
    if (v === undefined) return;
    md.set(k, v);
    said.push(`${k}=${v.length > 80 ? `${v.slice(0, 40)}...(${v.length})` : v}`);
  };
  if (spec.mode === 'node') set('gproc-act-as', actAs());
  else if (spec.mode === 'user') {
    set('gproc-credential', credential());
    if (int(5) === 0) set('gproc-act-as', actAs());
  } else {
    if (int(4) === 0) set('gproc-act-as', actAs());
    if (int(8) === 0) set('gproc-credential', credential());
  }
  return [md, said.join(' ')];
}

/* ---------- sending ---------- */
function channel(): ChannelCredentials {
  if (!spec.ca) return credentials.createInsecure();
  const read = (p?: string) => (p ? readFileSync(p) : null);
  return credentials.createSsl(readFileSync(spec.ca), read(spec.key), read(spec.cert), {
    checkServerIdentity: () => undefined,
  });
}
const client = new Client(spec.target, channel(), {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  'grpc.use_local_subchannel_pool': 1,
});
const identity = (b: Buffer) => b;
const NAMES = Object.fromEntries(
  Object.entries(status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v, k]),
) as Record<number, string>;

interface Outcome {
  code: number;
  details: string;
}
/**
 * A call with a deadline always ends by it: grpc-js ends it locally if the agent says
 * nothing. So a unary DEADLINE_EXCEEDED is the agent not answering in UNARY_DEADLINE_MS,
 * and HANG (no end at all GRACE_MS after the deadline, checked twice so that a stall of
 * this process's own event loop on a loaded machine is not taken for one) is the client
 * library failing. Both fail the test.
 */
const GRACE_MS = 3000;
const UNARY_DEADLINE_MS = 10000;
const WAIT_DEADLINE_MS = 300;
/** Requests with more repeated entries than this may take their deadline to be served. */
const MANY_ENTRIES = 1000;
/** Repeated entries of a request as the agent decodes it (0 if it cannot). */
function entries(rpc: string, bytes: Buffer): number {
  const r = RPCS.find((x) => x.name === rpc)!;
  try {
    const o = T(r.req).toObject(T(r.req).decode(bytes), CONVERSION) as Record<string, unknown>;
    const body = (o.start as Record<string, unknown> | undefined) ?? o;
    return ['targets', 'argv', 'env', 'audience'].reduce(
      (n, k) => n + (Array.isArray(body[k]) ? (body[k] as unknown[]).length : 0),
      0,
    );
  } catch {
    return 0;
  }
}
/** Requests larger than this may take their deadline to arrive. */
const LARGE_BYTES = 256 << 10;

/**
 * This process's own event loop stalls (start ms, length ms): on a loaded machine it can be
 * held up for seconds, and a call it could not send or read meanwhile misses its deadline
 * through no fault of the agent.
 */
const stalls: [number, number][] = [];
let lastBeat = Date.now();
setInterval(() => {
  const now = Date.now();
  if (now - lastBeat > 600) stalls.push([lastBeat, now - lastBeat]);
  if (stalls.length > 1000) stalls.shift();
  lastBeat = now;
}, 100).unref();
/** Whether this process stalled for a second or more in [from, to]. */
const stalledBetween = (from: number, to: number) =>
  stalls.some(([at, len]) => len >= 1000 && at + len >= from && at <= to);

function withWatchdog(
  ms: number,
  start: (done: (o: Outcome) => void) => () => void,
): Promise<Outcome & { lateMs: number; clientStalled: boolean; startedAtMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let finished = false;
    let cancel: () => void = () => {};
    let timer: NodeJS.Timeout;
    const done = (o: Outcome) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({
        ...o,
        lateMs: Math.max(0, Date.now() - t0 - ms),
        clientStalled: stalledBetween(t0, Date.now()),
        startedAtMs: t0,
      });
    };
    timer = setTimeout(() => {
      // Let whatever this process had queued while it was held up run first.
      timer = setTimeout(() => {
        done({ code: -1, details: `no end ${GRACE_MS} ms after the deadline` });
        cancel();
      }, 1000);
    }, ms + GRACE_MS);
    try {
      cancel = start(done);
    } catch (err) {
      done({ code: -2, details: `client error: ${(err as Error).message}` });
    }
  });
}
const fromErr = (err: ServiceError | null): Outcome =>
  err ? { code: err.code, details: err.details ?? err.message } : { code: 0, details: '' };

function sendUnary(path: string, bytes: Buffer, md: Metadata, ms: number) {
  return withWatchdog(ms, (done) => {
    const call = client.makeUnaryRequest<Buffer, Buffer>(
      path,
      identity,
      identity,
      bytes,
      md,
      { deadline: Date.now() + ms },
      (err) => done(fromErr(err)),
    );
    return () => call.cancel();
  });
}
function sendEvents(path: string, bytes: Buffer, md: Metadata) {
  const ms = 2000;
  return withWatchdog(ms, (done) => {
    const call = client.makeServerStreamRequest<Buffer, Buffer>(
      path,
      identity,
      identity,
      bytes,
      md,
      { deadline: Date.now() + ms },
    );
    call.on('data', () => {});
    call.on('error', (err: ServiceError) => done(fromErr(err)));
    call.on('status', (s) => done({ code: s.code, details: s.details }));
    const t = setTimeout(() => call.cancel(), 100 + int(200));
    call.on('status', () => clearTimeout(t));
    return () => call.cancel();
  });
}
function sendRun(path: string, msgs: Buffer[], md: Metadata) {
  const ms = 3000;
  return withWatchdog(ms, (done) => {
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(path, identity, identity, md, {
      deadline: Date.now() + ms,
    });
    call.on('data', () => {});
    call.on('error', (err: ServiceError) => done(fromErr(err)));
    call.on('status', (s) => done({ code: s.code, details: s.details }));
    for (const m of msgs) call.write(m);
    if (int(4)) call.end();
    // A command that waits for more (a mutated `sleep`, stdin never closed): hang up as a client that goes away.
    const t = setTimeout(() => call.cancel(), 1500 + int(500));
    call.on('status', () => clearTimeout(t));
    return () => call.cancel();
  });
}

async function seal(audience: number[]): Promise<void> {
  const bytes = enc('SealRequest', { audience });
  client.makeUnaryRequest<Buffer, Buffer>(
    '/gproc.v1.Agent/Seal',
    identity,
    identity,
    bytes,
    new Metadata(),
    { deadline: Date.now() + 5000 },
    (err, res) => {
      if (err) {
        process.stderr.write(`seal failed: ${err.code} ${err.details}\n`);
        process.exit(1);
      }
      const cred = T('Credential').toObject(T('Credential').decode(res!), CONVERSION) as {
        token: string;
      };
      process.stdout.write(`${JSON.stringify({ token: cred.token })}\n`);
      process.exit(0);
    },
  );
}

async function fuzz(): Promise<void> {
  const result: FuzzResult = {
    sent: 0,
    reached: 0,
    elapsedMs: 0,
    stoppedEarly: false,
    counts: {},
    mutations: {},
    patched: 0,
    samples: [],
    maxLateMs: 0,
    maxStallMs: 0,
    stalls: [],
  };
  const t0 = Date.now();
  const note = (
    rpc: string,
    o: Outcome & { lateMs: number; clientStalled: boolean; startedAtMs: number },
    mutation: string,
    md: string,
    bytes: Buffer,
    size: number,
  ) => {
    // grpc-js answers a request it cannot decode with INTERNAL "Error deserializing request".
    const decoding = o.code === status.INTERNAL && /deserializ/i.test(o.details);
    // grpc-js's own client (1.14, retrying-call.ts halfClose) may end the HTTP/2 stream while
    // the last message's write is still on its way down, when the fuzzer half-closes right
    // after writing; that write then fails in this process with "Write error: write after
    // end" (subchannel-call.ts), which no agent answer carries.
    const clientWriteOrder = o.code === status.INTERNAL && /^Write error: /.test(o.details);
    // Megabytes through HTTP/2 flow control on a loaded machine may not arrive in time: that
    // is transfer, not the agent failing to answer.
    // So may a request of thousands of entries: each signal target costs the agent a read
    // of /proc and a synchronous audit line, on its one thread.
    const large =
      o.code === status.DEADLINE_EXCEEDED &&
      (size > LARGE_BYTES || entries(rpc, bytes) > MANY_ENTRIES);
    const stalled = o.code === status.DEADLINE_EXCEEDED && !large && o.clientStalled;
    const code = decoding
      ? 'INTERNAL_DECODING'
      : clientWriteOrder
        ? 'INTERNAL_CLIENT_WRITE_ORDER'
        : large
          ? 'DEADLINE_EXCEEDED_HEAVY'
          : stalled
            ? 'DEADLINE_EXCEEDED_CLIENT_STALLED'
            : (NAMES[o.code] ??
              (o.code === -1 ? 'HANG' : o.code === -2 ? 'CLIENT_ERROR' : `CODE_${o.code}`));
    const byRpc = (result.counts[rpc] ??= {});
    byRpc[code] = (byRpc[code] ?? 0) + 1;
    if (!decoding) result.reached++;
    result.maxLateMs = Math.max(result.maxLateMs, o.lateMs);
    const interesting =
      (o.code === status.INTERNAL && !decoding && !clientWriteOrder) ||
      o.code < 0 ||
      [
        status.UNKNOWN,
        status.UNAVAILABLE,
        status.UNIMPLEMENTED,
        status.DATA_LOSS,
        status.ABORTED,
        status.OUT_OF_RANGE,
      ].includes(o.code) ||
      (o.code === status.DEADLINE_EXCEEDED &&
        !large &&
        !stalled &&
        !['Wait', 'Events', 'Watch'].includes(rpc));
    if (interesting && result.samples.filter((s) => s.code === code && s.rpc === rpc).length < 5) {
      result.samples.push({
        rpc,
        code,
        details: o.details.slice(0, 300),
        mutation,
        metadata: md.slice(0, 300),
        hex: bytes.subarray(0, 200).toString('hex'),
        startedAtMs: o.startedAtMs,
        endedAtMs: Date.now(),
      });
    }
  };
  const one = async () => {
    const rpc = pick(RPCS);
    const path = `/gproc.v1.Agent/${rpc.name}`;
    const [md, mdText] = metadata();
    const valid = rpc.valid();
    let mutation: string;
    let o: Outcome & { lateMs: number; clientStalled: boolean; startedAtMs: number };
    let shown: Buffer;
    let size: number;
    if (rpc.kind === 'bidi') {
      let msgs = (valid as Buffer[]).slice();
      const kinds: string[] = [];
      for (let i = 0; i < msgs.length; i++) {
        if (int(2)) continue;
        const [m, k] = mutate(msgs[i], T(rpc.req));
        msgs[i] = m;
        kinds.push(k);
      }
      switch (
        int(6) // the order of messages
      ) {
        case 0:
          msgs = msgs.slice(1);
          kinds.push('no-start');
          break;
        case 1:
          msgs = [msgs[0], ...msgs];
          kinds.push('start-twice');
          break;
        case 2:
          msgs = [
            ...msgs,
            ...Array(pick([10, 200])).fill(
              enc('RunInput', { stdin: Buffer.alloc(pick([1, 65536]), 'y') }),
            ),
          ];
          kinds.push('much-stdin');
          break;
        default:
          break;
      }
      if (spec.restricted) {
        msgs = msgs.map((m) => {
          const [b, p] = harmless(rpc.req, m);
          if (p) result.patched++;
          return b;
        });
      }
      mutation = kinds.join('+') || 'none';
      shown = msgs[0] ?? Buffer.alloc(0);
      size = msgs.reduce((n, m) => n + m.length, 0);
      o = await sendRun(path, msgs, md);
    } else {
      let [bytes, k] = mutate(valid as Buffer, T(rpc.req));
      if (int(5) === 0) {
        const [b2, k2] = mutate(bytes, T(rpc.req));
        bytes = b2;
        k = `${k}+${k2}`;
      }
      if (spec.restricted) {
        const [b, p] = harmless(rpc.req, bytes);
        bytes = b;
        if (p) result.patched++;
      }
      mutation = k;
      shown = bytes;
      size = bytes.length;
      o =
        rpc.kind === 'server'
          ? await sendEvents(path, bytes, md)
          : await sendUnary(
              path,
              bytes,
              md,
              rpc.name === 'Wait' ? WAIT_DEADLINE_MS : UNARY_DEADLINE_MS,
            );
    }
    for (const m of mutation.split('+')) result.mutations[m] = (result.mutations[m] ?? 0) + 1;
    note(rpc.name, o, mutation, mdText, shown, size);
  };
  let issued = 0;
  const worker = async () => {
    while (issued < spec.count) {
      if (Date.now() - t0 > spec.budgetMs) {
        result.stoppedEarly = true;
        return;
      }
      issued++;
      result.sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency ?? 4 }, worker));
  result.elapsedMs = Date.now() - t0;
  result.maxStallMs = Math.max(0, ...stalls.map(([, len]) => len));
  result.stalls = stalls.filter(([, len]) => len >= 1000);
  client.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (spec.sealFor) void seal(spec.sealFor);
else void fuzz();
