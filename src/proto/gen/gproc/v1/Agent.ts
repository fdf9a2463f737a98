// Original file: src/proto/gproc.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Credential as _gproc_v1_Credential, Credential__Output as _gproc_v1_Credential__Output } from '../../gproc/v1/Credential';
import type { EventsRequest as _gproc_v1_EventsRequest, EventsRequest__Output as _gproc_v1_EventsRequest__Output } from '../../gproc/v1/EventsRequest';
import type { ExitStatus as _gproc_v1_ExitStatus, ExitStatus__Output as _gproc_v1_ExitStatus__Output } from '../../gproc/v1/ExitStatus';
import type { NodeInfo as _gproc_v1_NodeInfo, NodeInfo__Output as _gproc_v1_NodeInfo__Output } from '../../gproc/v1/NodeInfo';
import type { NodeInfoRequest as _gproc_v1_NodeInfoRequest, NodeInfoRequest__Output as _gproc_v1_NodeInfoRequest__Output } from '../../gproc/v1/NodeInfoRequest';
import type { ProcessEvent as _gproc_v1_ProcessEvent, ProcessEvent__Output as _gproc_v1_ProcessEvent__Output } from '../../gproc/v1/ProcessEvent';
import type { ProcessFile as _gproc_v1_ProcessFile, ProcessFile__Output as _gproc_v1_ProcessFile__Output } from '../../gproc/v1/ProcessFile';
import type { ProcessFileRequest as _gproc_v1_ProcessFileRequest, ProcessFileRequest__Output as _gproc_v1_ProcessFileRequest__Output } from '../../gproc/v1/ProcessFileRequest';
import type { ProcessLinks as _gproc_v1_ProcessLinks, ProcessLinks__Output as _gproc_v1_ProcessLinks__Output } from '../../gproc/v1/ProcessLinks';
import type { ProcessLinksRequest as _gproc_v1_ProcessLinksRequest, ProcessLinksRequest__Output as _gproc_v1_ProcessLinksRequest__Output } from '../../gproc/v1/ProcessLinksRequest';
import type { ProcessRef as _gproc_v1_ProcessRef, ProcessRef__Output as _gproc_v1_ProcessRef__Output } from '../../gproc/v1/ProcessRef';
import type { RunInput as _gproc_v1_RunInput, RunInput__Output as _gproc_v1_RunInput__Output } from '../../gproc/v1/RunInput';
import type { RunOutput as _gproc_v1_RunOutput, RunOutput__Output as _gproc_v1_RunOutput__Output } from '../../gproc/v1/RunOutput';
import type { SealRequest as _gproc_v1_SealRequest, SealRequest__Output as _gproc_v1_SealRequest__Output } from '../../gproc/v1/SealRequest';
import type { SignalReply as _gproc_v1_SignalReply, SignalReply__Output as _gproc_v1_SignalReply__Output } from '../../gproc/v1/SignalReply';
import type { SignalRequest as _gproc_v1_SignalRequest, SignalRequest__Output as _gproc_v1_SignalRequest__Output } from '../../gproc/v1/SignalRequest';
import type { Snapshot as _gproc_v1_Snapshot, Snapshot__Output as _gproc_v1_Snapshot__Output } from '../../gproc/v1/Snapshot';
import type { SnapshotRequest as _gproc_v1_SnapshotRequest, SnapshotRequest__Output as _gproc_v1_SnapshotRequest__Output } from '../../gproc/v1/SnapshotRequest';
import type { SpawnReply as _gproc_v1_SpawnReply, SpawnReply__Output as _gproc_v1_SpawnReply__Output } from '../../gproc/v1/SpawnReply';
import type { SpawnRequest as _gproc_v1_SpawnRequest, SpawnRequest__Output as _gproc_v1_SpawnRequest__Output } from '../../gproc/v1/SpawnRequest';
import type { TableUpdate as _gproc_v1_TableUpdate, TableUpdate__Output as _gproc_v1_TableUpdate__Output } from '../../gproc/v1/TableUpdate';
import type { Usage as _gproc_v1_Usage, Usage__Output as _gproc_v1_Usage__Output } from '../../gproc/v1/Usage';
import type { WatchRequest as _gproc_v1_WatchRequest, WatchRequest__Output as _gproc_v1_WatchRequest__Output } from '../../gproc/v1/WatchRequest';

export interface AgentClient extends grpc.Client {
  /**
   * Process starts and exits on this node, as they happen.
   */
  Events(argument: _gproc_v1_EventsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_gproc_v1_ProcessEvent__Output>;
  Events(argument: _gproc_v1_EventsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_gproc_v1_ProcessEvent__Output>;
  /**
   * Process starts and exits on this node, as they happen.
   */
  events(argument: _gproc_v1_EventsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_gproc_v1_ProcessEvent__Output>;
  events(argument: _gproc_v1_EventsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_gproc_v1_ProcessEvent__Output>;
  
  /**
   * Who this node is and its node-wide files.
   */
  GetNodeInfo(argument: _gproc_v1_NodeInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetNodeInfo(argument: _gproc_v1_NodeInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetNodeInfo(argument: _gproc_v1_NodeInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  GetNodeInfo(argument: _gproc_v1_NodeInfoRequest, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Who this node is and its node-wide files.
   */
  getNodeInfo(argument: _gproc_v1_NodeInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNodeInfo(argument: _gproc_v1_NodeInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNodeInfo(argument: _gproc_v1_NodeInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  getNodeInfo(argument: _gproc_v1_NodeInfoRequest, callback: grpc.requestCallback<_gproc_v1_NodeInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every process of the node in one call, with the node files, at one moment.
   */
  GetSnapshot(argument: _gproc_v1_SnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  GetSnapshot(argument: _gproc_v1_SnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  GetSnapshot(argument: _gproc_v1_SnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  GetSnapshot(argument: _gproc_v1_SnapshotRequest, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  /**
   * Every process of the node in one call, with the node files, at one moment.
   */
  getSnapshot(argument: _gproc_v1_SnapshotRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _gproc_v1_SnapshotRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _gproc_v1_SnapshotRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  getSnapshot(argument: _gproc_v1_SnapshotRequest, callback: grpc.requestCallback<_gproc_v1_Snapshot__Output>): grpc.ClientUnaryCall;
  
  /**
   * pidusage figures of one process.
   */
  GetUsage(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  GetUsage(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  GetUsage(argument: _gproc_v1_ProcessRef, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  GetUsage(argument: _gproc_v1_ProcessRef, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  /**
   * pidusage figures of one process.
   */
  getUsage(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  getUsage(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  getUsage(argument: _gproc_v1_ProcessRef, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  getUsage(argument: _gproc_v1_ProcessRef, callback: grpc.requestCallback<_gproc_v1_Usage__Output>): grpc.ClientUnaryCall;
  
  /**
   * One whitelisted file of one process, read now.
   */
  ReadProcessFile(argument: _gproc_v1_ProcessFileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  ReadProcessFile(argument: _gproc_v1_ProcessFileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  ReadProcessFile(argument: _gproc_v1_ProcessFileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  ReadProcessFile(argument: _gproc_v1_ProcessFileRequest, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  /**
   * One whitelisted file of one process, read now.
   */
  readProcessFile(argument: _gproc_v1_ProcessFileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  readProcessFile(argument: _gproc_v1_ProcessFileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  readProcessFile(argument: _gproc_v1_ProcessFileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  readProcessFile(argument: _gproc_v1_ProcessFileRequest, callback: grpc.requestCallback<_gproc_v1_ProcessFile__Output>): grpc.ClientUnaryCall;
  
  /**
   * The symbolic links of one process (exe cwd root, fd/, or ns/) and their targets, read now.
   */
  ReadProcessLinks(argument: _gproc_v1_ProcessLinksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  ReadProcessLinks(argument: _gproc_v1_ProcessLinksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  ReadProcessLinks(argument: _gproc_v1_ProcessLinksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  ReadProcessLinks(argument: _gproc_v1_ProcessLinksRequest, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  /**
   * The symbolic links of one process (exe cwd root, fd/, or ns/) and their targets, read now.
   */
  readProcessLinks(argument: _gproc_v1_ProcessLinksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  readProcessLinks(argument: _gproc_v1_ProcessLinksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  readProcessLinks(argument: _gproc_v1_ProcessLinksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  readProcessLinks(argument: _gproc_v1_ProcessLinksRequest, callback: grpc.requestCallback<_gproc_v1_ProcessLinks__Output>): grpc.ClientUnaryCall;
  
  /**
   * Starts a process and streams its stdin, stdout and stderr (gproc run).
   */
  Run(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_RunInput, _gproc_v1_RunOutput__Output>;
  Run(options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_RunInput, _gproc_v1_RunOutput__Output>;
  /**
   * Starts a process and streams its stdin, stdout and stderr (gproc run).
   */
  run(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_RunInput, _gproc_v1_RunOutput__Output>;
  run(options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_RunInput, _gproc_v1_RunOutput__Output>;
  
  /**
   * A short-lived credential for the caller, as the kernel names it, that the agents of
   * the audience nodes accept over server-authenticated TLS. Unix socket callers only.
   */
  Seal(argument: _gproc_v1_SealRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  Seal(argument: _gproc_v1_SealRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  Seal(argument: _gproc_v1_SealRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  Seal(argument: _gproc_v1_SealRequest, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  /**
   * A short-lived credential for the caller, as the kernel names it, that the agents of
   * the audience nodes accept over server-authenticated TLS. Unix socket callers only.
   */
  seal(argument: _gproc_v1_SealRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  seal(argument: _gproc_v1_SealRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  seal(argument: _gproc_v1_SealRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  seal(argument: _gproc_v1_SealRequest, callback: grpc.requestCallback<_gproc_v1_Credential__Output>): grpc.ClientUnaryCall;
  
  /**
   * Delivers a signal to each target whose start time still matches.
   */
  Signal(argument: _gproc_v1_SignalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  Signal(argument: _gproc_v1_SignalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  Signal(argument: _gproc_v1_SignalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  Signal(argument: _gproc_v1_SignalRequest, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  /**
   * Delivers a signal to each target whose start time still matches.
   */
  signal(argument: _gproc_v1_SignalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  signal(argument: _gproc_v1_SignalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  signal(argument: _gproc_v1_SignalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  signal(argument: _gproc_v1_SignalRequest, callback: grpc.requestCallback<_gproc_v1_SignalReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Starts a process owned by the agent (nodes/<id>/spawn).
   */
  Spawn(argument: _gproc_v1_SpawnRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  Spawn(argument: _gproc_v1_SpawnRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  Spawn(argument: _gproc_v1_SpawnRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  Spawn(argument: _gproc_v1_SpawnRequest, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  /**
   * Starts a process owned by the agent (nodes/<id>/spawn).
   */
  spawn(argument: _gproc_v1_SpawnRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  spawn(argument: _gproc_v1_SpawnRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  spawn(argument: _gproc_v1_SpawnRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  spawn(argument: _gproc_v1_SpawnRequest, callback: grpc.requestCallback<_gproc_v1_SpawnReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Blocks until the process ends; answers its exit status.
   */
  Wait(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  Wait(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  Wait(argument: _gproc_v1_ProcessRef, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  Wait(argument: _gproc_v1_ProcessRef, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  /**
   * Blocks until the process ends; answers its exit status.
   */
  wait(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  wait(argument: _gproc_v1_ProcessRef, metadata: grpc.Metadata, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  wait(argument: _gproc_v1_ProcessRef, options: grpc.CallOptions, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  wait(argument: _gproc_v1_ProcessRef, callback: grpc.requestCallback<_gproc_v1_ExitStatus__Output>): grpc.ClientUnaryCall;
  
  /**
   * The node's process table as it changes: first the whole table, then, every interval
   * (and at once after each request the caller sends), what changed since the last
   * message this stream sent. A caller that keeps a replica applies them in order.
   */
  Watch(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_WatchRequest, _gproc_v1_TableUpdate__Output>;
  Watch(options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_WatchRequest, _gproc_v1_TableUpdate__Output>;
  /**
   * The node's process table as it changes: first the whole table, then, every interval
   * (and at once after each request the caller sends), what changed since the last
   * message this stream sent. A caller that keeps a replica applies them in order.
   */
  watch(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_WatchRequest, _gproc_v1_TableUpdate__Output>;
  watch(options?: grpc.CallOptions): grpc.ClientDuplexStream<_gproc_v1_WatchRequest, _gproc_v1_TableUpdate__Output>;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Process starts and exits on this node, as they happen.
   */
  Events: grpc.handleServerStreamingCall<_gproc_v1_EventsRequest__Output, _gproc_v1_ProcessEvent>;
  
  /**
   * Who this node is and its node-wide files.
   */
  GetNodeInfo: grpc.handleUnaryCall<_gproc_v1_NodeInfoRequest__Output, _gproc_v1_NodeInfo>;
  
  /**
   * Every process of the node in one call, with the node files, at one moment.
   */
  GetSnapshot: grpc.handleUnaryCall<_gproc_v1_SnapshotRequest__Output, _gproc_v1_Snapshot>;
  
  /**
   * pidusage figures of one process.
   */
  GetUsage: grpc.handleUnaryCall<_gproc_v1_ProcessRef__Output, _gproc_v1_Usage>;
  
  /**
   * One whitelisted file of one process, read now.
   */
  ReadProcessFile: grpc.handleUnaryCall<_gproc_v1_ProcessFileRequest__Output, _gproc_v1_ProcessFile>;
  
  /**
   * The symbolic links of one process (exe cwd root, fd/, or ns/) and their targets, read now.
   */
  ReadProcessLinks: grpc.handleUnaryCall<_gproc_v1_ProcessLinksRequest__Output, _gproc_v1_ProcessLinks>;
  
  /**
   * Starts a process and streams its stdin, stdout and stderr (gproc run).
   */
  Run: grpc.handleBidiStreamingCall<_gproc_v1_RunInput__Output, _gproc_v1_RunOutput>;
  
  /**
   * A short-lived credential for the caller, as the kernel names it, that the agents of
   * the audience nodes accept over server-authenticated TLS. Unix socket callers only.
   */
  Seal: grpc.handleUnaryCall<_gproc_v1_SealRequest__Output, _gproc_v1_Credential>;
  
  /**
   * Delivers a signal to each target whose start time still matches.
   */
  Signal: grpc.handleUnaryCall<_gproc_v1_SignalRequest__Output, _gproc_v1_SignalReply>;
  
  /**
   * Starts a process owned by the agent (nodes/<id>/spawn).
   */
  Spawn: grpc.handleUnaryCall<_gproc_v1_SpawnRequest__Output, _gproc_v1_SpawnReply>;
  
  /**
   * Blocks until the process ends; answers its exit status.
   */
  Wait: grpc.handleUnaryCall<_gproc_v1_ProcessRef__Output, _gproc_v1_ExitStatus>;
  
  /**
   * The node's process table as it changes: first the whole table, then, every interval
   * (and at once after each request the caller sends), what changed since the last
   * message this stream sent. A caller that keeps a replica applies them in order.
   */
  Watch: grpc.handleBidiStreamingCall<_gproc_v1_WatchRequest__Output, _gproc_v1_TableUpdate>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  Events: MethodDefinition<_gproc_v1_EventsRequest, _gproc_v1_ProcessEvent, _gproc_v1_EventsRequest__Output, _gproc_v1_ProcessEvent__Output>
  GetNodeInfo: MethodDefinition<_gproc_v1_NodeInfoRequest, _gproc_v1_NodeInfo, _gproc_v1_NodeInfoRequest__Output, _gproc_v1_NodeInfo__Output>
  GetSnapshot: MethodDefinition<_gproc_v1_SnapshotRequest, _gproc_v1_Snapshot, _gproc_v1_SnapshotRequest__Output, _gproc_v1_Snapshot__Output>
  GetUsage: MethodDefinition<_gproc_v1_ProcessRef, _gproc_v1_Usage, _gproc_v1_ProcessRef__Output, _gproc_v1_Usage__Output>
  ReadProcessFile: MethodDefinition<_gproc_v1_ProcessFileRequest, _gproc_v1_ProcessFile, _gproc_v1_ProcessFileRequest__Output, _gproc_v1_ProcessFile__Output>
  ReadProcessLinks: MethodDefinition<_gproc_v1_ProcessLinksRequest, _gproc_v1_ProcessLinks, _gproc_v1_ProcessLinksRequest__Output, _gproc_v1_ProcessLinks__Output>
  Run: MethodDefinition<_gproc_v1_RunInput, _gproc_v1_RunOutput, _gproc_v1_RunInput__Output, _gproc_v1_RunOutput__Output>
  Seal: MethodDefinition<_gproc_v1_SealRequest, _gproc_v1_Credential, _gproc_v1_SealRequest__Output, _gproc_v1_Credential__Output>
  Signal: MethodDefinition<_gproc_v1_SignalRequest, _gproc_v1_SignalReply, _gproc_v1_SignalRequest__Output, _gproc_v1_SignalReply__Output>
  Spawn: MethodDefinition<_gproc_v1_SpawnRequest, _gproc_v1_SpawnReply, _gproc_v1_SpawnRequest__Output, _gproc_v1_SpawnReply__Output>
  Wait: MethodDefinition<_gproc_v1_ProcessRef, _gproc_v1_ExitStatus, _gproc_v1_ProcessRef__Output, _gproc_v1_ExitStatus__Output>
  Watch: MethodDefinition<_gproc_v1_WatchRequest, _gproc_v1_TableUpdate, _gproc_v1_WatchRequest__Output, _gproc_v1_TableUpdate__Output>
}
