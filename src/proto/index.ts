/**
 * The versioned wire contract (gproc.proto) for @grpc/grpc-js. `make proto` turns the
 * .proto into gproc.json, its protobufjs descriptor, and into the TypeScript types under
 * ./gen; neither is edited by hand. At run time the descriptor is loaded with protobufjs's
 * light build and turned into a grpc-js service definition here: @grpc/proto-loader does the
 * same but also builds descriptor.proto reflection data, which doubled `gproc run`'s
 * start-up (native-notes/performance.md).
 */
import { makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { Reader, Root, Type, type IConversionOptions, type INamespace } from 'protobufjs/light';
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

function codec(type: Type, maxEntries?: number) {
  return {
    serialize: (value: object) => Buffer.from(type.encode(type.fromObject(value)).finish()),
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
    } else if (wire === 2 && field?.repeated) {
      // Packed scalars: at least one byte each.
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
