/**
 * The versioned wire contract (gproc.proto) for @grpc/grpc-js. `make proto` turns the
 * .proto into gproc.json, its protobufjs descriptor, and into the TypeScript types under
 * ./gen; neither is edited by hand. At run time the descriptor is loaded with protobufjs's
 * light build and turned into a grpc-js service definition here: @grpc/proto-loader does the
 * same but also builds descriptor.proto reflection data, which doubled `gproc run`'s
 * start-up (native-notes/performance.md).
 */
import { makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import {
  Reader,
  Root,
  Type,
  types,
  Writer,
  type IConversionOptions,
  type INamespace,
} from 'protobufjs/light';
import { defaults } from '../defaults';
import descriptor from './gproc.json';
import type { AgentClient } from './gen/gproc/v1/Agent';

export type { AgentClient, AgentHandlers } from './gen/gproc/v1/Agent';

/**
 * How messages look in JavaScript, as the generated types assume (`make proto` passes the
 * same to proto-loader-gen-types): 64-bit integers as numbers, enums as their names,
 * absent fields as their defaults, and each oneof's name holding its present field.
 */
export const CONVERSION: IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let loaded:
  | {
      service: ServiceDefinition;
      Client: new (
        ...args: ConstructorParameters<ReturnType<typeof makeGenericClientConstructor>>
      ) => AgentClient;
    }
  | undefined;

/**
 * grpc-js wants a Buffer; protobufjs's writer gives one under Node already. Either way a
 * view, not a copy: Buffer.from(bytes) copied every message (a run's 64 KiB chunks: one
 * copy more per chunk, and as much garbage).
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** A message encoded already (`bytesMessage`): the codec hands its bytes to grpc-js as they are. */
export class Encoded {
  constructor(readonly bytes: Buffer) {}
}

type BytesField = { RunInput: 'stdin'; RunOutput: 'stdout' | 'stderr' };

/** The descriptor's messages, as far as `bytesMessage` reads them. */
const messages = () =>
  descriptor as unknown as {
    nested: {
      gproc: {
        nested: {
          v1: { nested: Record<string, { fields: Record<string, { id: number; type: string }> }> };
        };
      };
    };
  };

/**
 * The message of `type` whose one field `field` (bytes) holds `chunks` (`size` bytes in
 * all), encoded with one copy: each chunk is copied once, into the encoding, which the codec
 * passes on as it is. gproc run's stdin, stdout and stderr take this way: protobufjs copies
 * a chunk into its encoding too, but one chunk per message, and after its own object walk;
 * here several chunks become one message for that one copy.
 */
export function bytesMessage<T extends keyof BytesField>(
  type: T,
  field: BytesField[T],
  chunks: readonly Buffer[],
  size: number,
): Encoded {
  const { id, type: wire } = messages().nested.gproc.nested.v1.nested[type].fields[field];
  if (wire !== 'bytes') throw new Error(`${type}.${field} is no bytes field`);
  // The field's key and length as protobufjs writes them, then the bytes, copied once.
  const head = Writer.create()
    .uint32((id << 3) | 2)
    .uint32(size)
    .finish();
  if (chunks.reduce((n, c) => n + c.length, 0) !== size)
    throw new Error(`bytesMessage: chunks of ${type}.${field} are not ${size} bytes`);
  const out = Buffer.concat([head, ...chunks], head.length + size);
  return new Encoded(out);
}

function codec(type: Type, maxEntries?: number) {
  return {
    serialize: (value: object) =>
      value instanceof Encoded
        ? value.bytes
        : asBuffer(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes: Buffer) => {
      if (maxEntries !== undefined)
        checkEntries(type, Reader.create(bytes), bytes.length, maxEntries);
      return type.toObject(type.decode(bytes), CONVERSION);
    },
  };
}

/**
 * Walks an encoded message without decoding it and throws when a repeated field, at any
 * depth, has more than `max` entries. Decoding allocates an object per entry: a request of a
 * few MiB made of two-byte entries would hold the agent's thread for seconds before any bound
 * or policy is checked. The walk allocates nothing (measured: 2 M entries in ~30 ms against
 * 2.8 s to decode).
 * @throws Error naming the field (grpc-js answers INTERNAL "Error deserializing request").
 */
function checkEntries(type: Type, r: Reader, end: number, max: number): void {
  const counts = new Map<number, number>();
  while (r.pos < end) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const field = type.fieldsById[id];
    if (field?.repeated) {
      const n = (counts.get(id) ?? 0) + 1;
      if (n > max) throw new Error(`more than ${max} entries in ${type.name}.${field.name}`);
      counts.set(id, n);
    }
    if (wire === 2 && field?.resolvedType instanceof Type) {
      const len = r.uint32();
      const stop = r.pos + len;
      if (stop > end) throw new Error(`${type.name}.${field.name} runs past the message`);
      checkEntries(field.resolvedType, r, stop, max);
      r.pos = stop;
    } else if (wire === 2 && field?.repeated && field.type in types.packed) {
      // Packed scalars: at least one byte each. (A repeated string or bytes field comes as
      // one length-delimited record per entry, counted above, whatever its length.)
      const len = r.uint32();
      if (len > max * 10) throw new Error(`more than ${max} entries in ${type.name}.${field.name}`);
      r.skip(len);
    } else {
      r.skipType(wire);
    }
  }
}

/** The gproc.v1.Agent service: its definition (for servers) and its client class. */
export function agentService(): NonNullable<typeof loaded> {
  if (!loaded) {
    const root = Root.fromJSON(descriptor as INamespace);
    const methods: Record<string, ServiceDefinition[string]> = {};
    for (const method of root.lookupService('gproc.v1.Agent').methodsArray) {
      method.resolve();
      // Requests are bounded before they are decoded; responses (a snapshot of thousands of processes) are not.
      const req = codec(method.resolvedRequestType!, defaults.limits.requestEntries);
      const res = codec(method.resolvedResponseType!);
      methods[method.name] = {
        path: `/gproc.v1.Agent/${method.name}`,
        requestStream: !!method.requestStream,
        responseStream: !!method.responseStream,
        requestSerialize: req.serialize,
        requestDeserialize: req.deserialize,
        responseSerialize: res.serialize,
        responseDeserialize: res.deserialize,
      };
    }
    const service: ServiceDefinition = methods;
    const Client = makeGenericClientConstructor(
      service,
      'gproc.v1.Agent',
    ) as unknown as NonNullable<typeof loaded>['Client'];
    loaded = { service, Client };
  }
  return loaded;
}
