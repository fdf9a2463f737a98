import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentClient as _gproc_v1_AgentClient, AgentDefinition as _gproc_v1_AgentDefinition } from './gproc/v1/Agent';
import type { Credential as _gproc_v1_Credential, Credential__Output as _gproc_v1_Credential__Output } from './gproc/v1/Credential';
import type { Ended as _gproc_v1_Ended, Ended__Output as _gproc_v1_Ended__Output } from './gproc/v1/Ended';
import type { EventsRequest as _gproc_v1_EventsRequest, EventsRequest__Output as _gproc_v1_EventsRequest__Output } from './gproc/v1/EventsRequest';
import type { ExitStatus as _gproc_v1_ExitStatus, ExitStatus__Output as _gproc_v1_ExitStatus__Output } from './gproc/v1/ExitStatus';
import type { NodeFiles as _gproc_v1_NodeFiles, NodeFiles__Output as _gproc_v1_NodeFiles__Output } from './gproc/v1/NodeFiles';
import type { NodeInfo as _gproc_v1_NodeInfo, NodeInfo__Output as _gproc_v1_NodeInfo__Output } from './gproc/v1/NodeInfo';
import type { NodeInfoRequest as _gproc_v1_NodeInfoRequest, NodeInfoRequest__Output as _gproc_v1_NodeInfoRequest__Output } from './gproc/v1/NodeInfoRequest';
import type { Origin as _gproc_v1_Origin, Origin__Output as _gproc_v1_Origin__Output } from './gproc/v1/Origin';
import type { Process as _gproc_v1_Process, Process__Output as _gproc_v1_Process__Output } from './gproc/v1/Process';
import type { ProcessEvent as _gproc_v1_ProcessEvent, ProcessEvent__Output as _gproc_v1_ProcessEvent__Output } from './gproc/v1/ProcessEvent';
import type { ProcessFile as _gproc_v1_ProcessFile, ProcessFile__Output as _gproc_v1_ProcessFile__Output } from './gproc/v1/ProcessFile';
import type { ProcessFileRequest as _gproc_v1_ProcessFileRequest, ProcessFileRequest__Output as _gproc_v1_ProcessFileRequest__Output } from './gproc/v1/ProcessFileRequest';
import type { ProcessLink as _gproc_v1_ProcessLink, ProcessLink__Output as _gproc_v1_ProcessLink__Output } from './gproc/v1/ProcessLink';
import type { ProcessLinks as _gproc_v1_ProcessLinks, ProcessLinks__Output as _gproc_v1_ProcessLinks__Output } from './gproc/v1/ProcessLinks';
import type { ProcessLinksRequest as _gproc_v1_ProcessLinksRequest, ProcessLinksRequest__Output as _gproc_v1_ProcessLinksRequest__Output } from './gproc/v1/ProcessLinksRequest';
import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from './gproc/v1/ProcessRef';
import type { RunInput as _gproc_v1_RunInput, RunInput__Output as _gproc_v1_RunInput__Output } from './gproc/v1/RunInput';
import type { RunOutput as _gproc_v1_RunOutput, RunOutput__Output as _gproc_v1_RunOutput__Output } from './gproc/v1/RunOutput';
import type { SealRequest as _gproc_v1_SealRequest, SealRequest__Output as _gproc_v1_SealRequest__Output } from './gproc/v1/SealRequest';
import type { SignalReply as _gproc_v1_SignalReply, SignalReply__Output as _gproc_v1_SignalReply__Output } from './gproc/v1/SignalReply';
import type { SignalRequest as _gproc_v1_SignalRequest, SignalRequest__Output as _gproc_v1_SignalRequest__Output } from './gproc/v1/SignalRequest';
import type { SignalResult as _gproc_v1_SignalResult, SignalResult__Output as _gproc_v1_SignalResult__Output } from './gproc/v1/SignalResult';
import type { Snapshot as _gproc_v1_Snapshot, Snapshot__Output as _gproc_v1_Snapshot__Output } from './gproc/v1/Snapshot';
import type { SnapshotRequest as _gproc_v1_SnapshotRequest, SnapshotRequest__Output as _gproc_v1_SnapshotRequest__Output } from './gproc/v1/SnapshotRequest';
import type { SpawnReply as _gproc_v1_SpawnReply, SpawnReply__Output as _gproc_v1_SpawnReply__Output } from './gproc/v1/SpawnReply';
import type { SpawnRequest as _gproc_v1_SpawnRequest, SpawnRequest__Output as _gproc_v1_SpawnRequest__Output } from './gproc/v1/SpawnRequest';
import type { Started as _gproc_v1_Started, Started__Output as _gproc_v1_Started__Output } from './gproc/v1/Started';
import type { TableUpdate as _gproc_v1_TableUpdate, TableUpdate__Output as _gproc_v1_TableUpdate__Output } from './gproc/v1/TableUpdate';
import type { Terminal as _gproc_v1_Terminal, Terminal__Output as _gproc_v1_Terminal__Output } from './gproc/v1/Terminal';
import type { Thread as _gproc_v1_Thread, Thread__Output as _gproc_v1_Thread__Output } from './gproc/v1/Thread';
import type { Usage as _gproc_v1_Usage, Usage__Output as _gproc_v1_Usage__Output } from './gproc/v1/Usage';
import type { WatchRequest as _gproc_v1_WatchRequest, WatchRequest__Output as _gproc_v1_WatchRequest__Output } from './gproc/v1/WatchRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  gproc: {
    v1: {
      Agent: SubtypeConstructor<typeof grpc.Client, _gproc_v1_AgentClient> & { service: _gproc_v1_AgentDefinition }
      Credential: MessageTypeDefinition<_gproc_v1_Credential, _gproc_v1_Credential__Output>
      Ended: MessageTypeDefinition<_gproc_v1_Ended, _gproc_v1_Ended__Output>
      EventsRequest: MessageTypeDefinition<_gproc_v1_EventsRequest, _gproc_v1_EventsRequest__Output>
      ExitStatus: MessageTypeDefinition<_gproc_v1_ExitStatus, _gproc_v1_ExitStatus__Output>
      NodeFiles: MessageTypeDefinition<_gproc_v1_NodeFiles, _gproc_v1_NodeFiles__Output>
      NodeInfo: MessageTypeDefinition<_gproc_v1_NodeInfo, _gproc_v1_NodeInfo__Output>
      NodeInfoRequest: MessageTypeDefinition<_gproc_v1_NodeInfoRequest, _gproc_v1_NodeInfoRequest__Output>
      Origin: MessageTypeDefinition<_gproc_v1_Origin, _gproc_v1_Origin__Output>
      Process: MessageTypeDefinition<_gproc_v1_Process, _gproc_v1_Process__Output>
      ProcessEvent: MessageTypeDefinition<_gproc_v1_ProcessEvent, _gproc_v1_ProcessEvent__Output>
      ProcessFile: MessageTypeDefinition<_gproc_v1_ProcessFile, _gproc_v1_ProcessFile__Output>
      ProcessFileName: EnumTypeDefinition
      ProcessFileRequest: MessageTypeDefinition<_gproc_v1_ProcessFileRequest, _gproc_v1_ProcessFileRequest__Output>
      ProcessLink: MessageTypeDefinition<_gproc_v1_ProcessLink, _gproc_v1_ProcessLink__Output>
      ProcessLinkSet: EnumTypeDefinition
      ProcessLinks: MessageTypeDefinition<_gproc_v1_ProcessLinks, _gproc_v1_ProcessLinks__Output>
      ProcessLinksRequest: MessageTypeDefinition<_gproc_v1_ProcessLinksRequest, _gproc_v1_ProcessLinksRequest__Output>
      ProcessRef: MessageTypeDefinition<_gproc_v1_ProcessRef, _gproc_v1_ProcessRef__Output>
      RunInput: MessageTypeDefinition<_gproc_v1_RunInput, _gproc_v1_RunInput__Output>
      RunOutput: MessageTypeDefinition<_gproc_v1_RunOutput, _gproc_v1_RunOutput__Output>
      SealRequest: MessageTypeDefinition<_gproc_v1_SealRequest, _gproc_v1_SealRequest__Output>
      SignalReply: MessageTypeDefinition<_gproc_v1_SignalReply, _gproc_v1_SignalReply__Output>
      SignalRequest: MessageTypeDefinition<_gproc_v1_SignalRequest, _gproc_v1_SignalRequest__Output>
      SignalResult: MessageTypeDefinition<_gproc_v1_SignalResult, _gproc_v1_SignalResult__Output>
      Snapshot: MessageTypeDefinition<_gproc_v1_Snapshot, _gproc_v1_Snapshot__Output>
      SnapshotRequest: MessageTypeDefinition<_gproc_v1_SnapshotRequest, _gproc_v1_SnapshotRequest__Output>
      SpawnReply: MessageTypeDefinition<_gproc_v1_SpawnReply, _gproc_v1_SpawnReply__Output>
      SpawnRequest: MessageTypeDefinition<_gproc_v1_SpawnRequest, _gproc_v1_SpawnRequest__Output>
      Started: MessageTypeDefinition<_gproc_v1_Started, _gproc_v1_Started__Output>
      TableUpdate: MessageTypeDefinition<_gproc_v1_TableUpdate, _gproc_v1_TableUpdate__Output>
      Terminal: MessageTypeDefinition<_gproc_v1_Terminal, _gproc_v1_Terminal__Output>
      Thread: MessageTypeDefinition<_gproc_v1_Thread, _gproc_v1_Thread__Output>
      Usage: MessageTypeDefinition<_gproc_v1_Usage, _gproc_v1_Usage__Output>
      WatchRequest: MessageTypeDefinition<_gproc_v1_WatchRequest, _gproc_v1_WatchRequest__Output>
    }
  }
}

