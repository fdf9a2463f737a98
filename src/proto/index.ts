/**
 * The versioned wire contract (gproc.proto) for @grpc/grpc-js. `make proto` turns the
 * .proto into gproc.json, its protobufjs descriptor, and into the TypeScript types under
 * ./gen; neither is edited by hand. At run time the descriptor is loaded with protobufjs's
 * light build and turned into a grpc-js service definition here: @grpc/proto-loader does the
 * same but also builds descriptor.proto reflection data, which doubled `gproc run`'s
 * start-up (native-notes/performance.md).
 */
import { makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { Root, type IConversionOptions, type INamespace, type Type } from 'protobufjs/light';
import descriptor from './gproc.json';
import type { AgentClient } from './gen/gproc/v1/Agent';

export type { AgentClient, AgentHandlers } from './gen/gproc/v1/Agent';

/**
 * How messages look in JavaScript, as the generated types assume (`make proto` passes the
 * same to proto-loader-gen-types): 64-bit integers as numbers, enums as their names,
 * absent fields as their defaults, and each oneof's name holding its present field.
 */
export const CONVERSION: IConversionOptions = { longs: Number, enums: String, defaults: true, oneofs: true };

let loaded: { service: ServiceDefinition; Client: new (...args: ConstructorParameters<ReturnType<typeof makeGenericClientConstructor>>) => AgentClient } | undefined;

function codec(type: Type) {
  return {
    serialize: (value: object) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes: Buffer) => type.toObject(type.decode(bytes), CONVERSION),
  };
}

/** The gproc.v1.Agent service: its definition (for servers) and its client class. */
export function agentService(): NonNullable<typeof loaded> {
  if (!loaded) {
    const root = Root.fromJSON(descriptor as INamespace);
    const methods: Record<string, ServiceDefinition[string]> = {};
    for (const method of root.lookupService('gproc.v1.Agent').methodsArray) {
      method.resolve();
      const req = codec(method.resolvedRequestType!);
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
    const Client = makeGenericClientConstructor(service, 'gproc.v1.Agent') as unknown as NonNullable<typeof loaded>['Client'];
    loaded = { service, Client };
  }
  return loaded;
}
