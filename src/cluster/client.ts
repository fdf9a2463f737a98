/**
 * A client of one node's agent. Every short call carries its own deadline
 * (`defaults.rpcDeadlineMs` unless given), so a node that stops answering costs at most
 * that long; long calls (wait, run, events) rely on keepalive pings instead, which end
 * them when the node stops answering. Reconnection backs off at most
 * `defaults.reprobeIntervalMs`, so a node that comes back is used again at once.
 */
import { status, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { ClusterConfig, NodeConfig } from '../config';
import { defaults } from '../defaults';
import { agentService, type AgentClient } from '../proto';
import type { ExitStatus__Output } from '../proto/gen/gproc/v1/ExitStatus';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import type { ProcessEvent__Output } from '../proto/gen/gproc/v1/ProcessEvent';
import type { ProcessFileName } from '../proto/gen/gproc/v1/ProcessFileName';
import type { ProcessRef } from '../proto/gen/gproc/v1/ProcessRef';
import type { RunInput } from '../proto/gen/gproc/v1/RunInput';
import type { RunOutput__Output } from '../proto/gen/gproc/v1/RunOutput';
import type { SignalRequest } from '../proto/gen/gproc/v1/SignalRequest';
import type { SignalResult__Output } from '../proto/gen/gproc/v1/SignalResult';
import type { Snapshot__Output } from '../proto/gen/gproc/v1/Snapshot';
import type { SpawnReply__Output } from '../proto/gen/gproc/v1/SpawnReply';
import type { SpawnRequest } from '../proto/gen/gproc/v1/SpawnRequest';
import type { Usage__Output } from '../proto/gen/gproc/v1/Usage';
import { channelCredentials } from '../tls';

type Callback<T> = (err: ServiceError | null, value?: T) => void;

/**
 * One agent of the cluster file (gproc.v1.Agent, src/proto/gproc.proto). Short calls reject
 * with the gRPC error: DEADLINE_EXCEEDED or UNAVAILABLE when the node does not answer,
 * NOT_FOUND for a gone process, INVALID_ARGUMENT for a bad request, PERMISSION_DENIED when
 * the caller may not act for the uid it names.
 */
export class NodeClient {
  readonly client: AgentClient;

  constructor(
    readonly node: NodeConfig,
    config: ClusterConfig,
  ) {
    const Agent = agentService().Client;
    this.client = new Agent(node.address, channelCredentials(config, node.address), {
      'grpc.max_receive_message_length': defaults.maxMessageBytes,
      'grpc.max_send_message_length': defaults.maxMessageBytes,
      'grpc.keepalive_time_ms': defaults.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': defaults.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': defaults.reprobeIntervalMs / 2,
      'grpc.max_reconnect_backoff_ms': defaults.reprobeIntervalMs,
      'grpc-node.flow_control_window': defaults.flowControlWindowBytes,
    });
  }

  private unary<T>(call: (deadline: { deadline: number }, cb: Callback<T>) => unknown, deadlineMs?: number): Promise<T> {
    return new Promise((resolve, reject) => {
      call({ deadline: Date.now() + (deadlineMs ?? defaults.rpcDeadlineMs) }, (err, value) => (err ? reject(err) : resolve(value as T)));
    });
  }

  /** Every process of the node at one moment, with the node files. */
  snapshot(deadlineMs?: number): Promise<Snapshot__Output> {
    return this.unary((o, cb) => this.client.GetSnapshot({}, o, cb), deadlineMs);
  }

  /** Id, name, boot time (s), clock ticks per second, page size and the node files. */
  nodeInfo(deadlineMs?: number): Promise<NodeInfo__Output> {
    return this.unary((o, cb) => this.client.GetNodeInfo({}, o, cb), deadlineMs);
  }

  /** One whitelisted file of a process (tid 0) or of one of its threads. */
  async readFile(ref: ProcessRef, file: ProcessFileName, tid = 0): Promise<Buffer> {
    const reply = await this.unary<{ content: Buffer }>((o, cb) => this.client.ReadProcessFile({ process: ref, file, tid }, o, cb));
    return reply.content;
  }

  /** pidusage of one process: cpu percent, memory bytes, elapsed ms. */
  usage(ref: ProcessRef): Promise<Usage__Output> {
    return this.unary((o, cb) => this.client.GetUsage(ref, o, cb));
  }

  /** Signals the targets (pid + starttime); one outcome per target, in their order. */
  async signal(req: SignalRequest): Promise<SignalResult__Output[]> {
    const reply = await this.unary<{ results: SignalResult__Output[] }>((o, cb) => this.client.Signal(req, o, cb));
    return reply.results;
  }

  /**
   * Starts a process as the agent's child; resolves to its pid and starttime (clock ticks).
   * Rejects with INVALID_ARGUMENT (empty command), NOT_FOUND (no such command or working
   * directory) or PERMISSION_DENIED.
   */
  spawn(req: SpawnRequest): Promise<SpawnReply__Output> {
    return this.unary((o, cb) => this.client.Spawn(req, o, cb));
  }

  /**
   * Resolves when the connection to the agent is up, within the deadline. Long calls (wait,
   * run, events) have no deadline of their own: this is what keeps them from waiting forever
   * on a node that accepts connections but does not answer; once connected, keepalive pings
   * end them if the node goes silent.
   * @throws an error with code UNAVAILABLE when the agent does not answer in time.
   */
  async ready(deadlineMs: number = defaults.rpcDeadlineMs): Promise<void> {
    // A short call rather than waitForReady: its error says why (refused, TLS, no answer).
    await this.nodeInfo(deadlineMs);
  }

  /** Blocks until the process ends (see `ready` for what bounds it). */
  wait(ref: ProcessRef): { result: Promise<ExitStatus__Output>; cancel(): void } {
    let call: { cancel(): void } | undefined;
    let cancelled = false;
    const result = this.ready().then(
      () =>
        new Promise<ExitStatus__Output>((resolve, reject) => {
          if (cancelled) return reject(Object.assign(new Error('cancelled'), { code: status.CANCELLED }));
          call = this.client.Wait(ref, (err, value) => (err ? reject(err) : resolve(value!)));
        }),
    );
    return {
      result,
      cancel: () => {
        cancelled = true;
        call?.cancel();
      },
    };
  }

  /** A gproc run stream. */
  run(): ClientDuplexStream<RunInput, RunOutput__Output> {
    return this.client.Run();
  }

  /** The node's process starts and exits from now on, until cancelled. */
  events(): ClientReadableStream<ProcessEvent__Output> {
    return this.client.Events({});
  }

  close(): void {
    this.client.close();
  }
}

/**
 * A short reason for a failed call, for one-line messages: "connect ECONNREFUSED
 * 127.0.0.1:7102", "no answer within its deadline (...)", or the agent's own message.
 */
export function rpcReason(err: unknown): string {
  const e = err as { code?: number; details?: string; message?: string };
  const details = e.details ?? e.message ?? String(err);
  if (e.code === status.DEADLINE_EXCEEDED) return `no answer within its deadline (${details})`;
  const last = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/.exec(details);
  return last ? last[1] : details;
}
