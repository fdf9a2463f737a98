/**
 * Loads the versioned wire contract (gproc.proto) for @grpc/grpc-js. The TypeScript types
 * under ./gen are generated from the .proto by `make proto` and never edited.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import type { ProtoGrpcType } from './gen/gproc';

export type { AgentClient, AgentHandlers } from './gen/gproc/v1/Agent';
export type { ExitStatus__Output as ExitStatus } from './gen/gproc/v1/ExitStatus';
export type { NodeInfo__Output as NodeInfo } from './gen/gproc/v1/NodeInfo';
export type { Origin__Output as Origin } from './gen/gproc/v1/Origin';
export type { Process__Output as Process } from './gen/gproc/v1/Process';
export type { ProcessEvent__Output as ProcessEvent } from './gen/gproc/v1/ProcessEvent';
export type { ProcessFileName } from './gen/gproc/v1/ProcessFileName';
export type { ProcessRef__Output as ProcessRef } from './gen/gproc/v1/ProcessRef';
export type { RunInput__Output as RunInput } from './gen/gproc/v1/RunInput';
export type { RunOutput__Output as RunOutput } from './gen/gproc/v1/RunOutput';
export type { SignalResult__Output as SignalResult } from './gen/gproc/v1/SignalResult';
export type { Snapshot__Output as Snapshot } from './gen/gproc/v1/Snapshot';
export type { SpawnRequest__Output as SpawnRequest } from './gen/gproc/v1/SpawnRequest';
export type { Usage__Output as Usage } from './gen/gproc/v1/Usage';

/** Options shared by the loader and `make proto` (the generated types assume them). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let loaded: ProtoGrpcType | undefined;

/** The gproc.v1 package: the Agent service and its message types. */
export function gprocV1(): ProtoGrpcType['gproc']['v1'] {
  if (!loaded) {
    const definition = protoLoader.loadSync(join(__dirname, 'gproc.proto'), LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded.gproc.v1;
}
