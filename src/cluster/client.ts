/**
 * A client of one node's agent. Every short call carries its own deadline
 * (`defaults.rpcDeadlineMs` unless given), so a node that stops answering costs at most
 * that long; long calls (wait, run, events) rely on keepalive pings instead, which end
 * them when the node stops answering. Reconnection backs off at most
 * `defaults.reprobeIntervalMs`, so a node that comes back is used again at once.
 */
import {
  status,
  type ClientDuplexStream,
  type ClientReadableStream,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { findNode, type ClusterConfig, type NodeConfig } from '../config';
import { defaults } from '../defaults';
import { agentService, type AgentClient } from '../proto';
import type { ExitStatus__Output } from '../proto/gen/gproc/v1/ExitStatus';
import type { NodeInfo__Output } from '../proto/gen/gproc/v1/NodeInfo';
import type { ProcessEvent__Output } from '../proto/gen/gproc/v1/ProcessEvent';
import type { ProcessFileName } from '../proto/gen/gproc/v1/ProcessFileName';
import type { ProcessLink__Output } from '../proto/gen/gproc/v1/ProcessLink';
import type { ProcessLinks__Output } from '../proto/gen/gproc/v1/ProcessLinks';
import type { ProcessRef, ProcessRef__Output } from '../proto/gen/gproc/v1/ProcessRef';
import type { RunInput } from '../proto/gen/gproc/v1/RunInput';
import type { RunOutput__Output } from '../proto/gen/gproc/v1/RunOutput';
import type { SignalRequest } from '../proto/gen/gproc/v1/SignalRequest';
import type { SignalResult__Output } from '../proto/gen/gproc/v1/SignalResult';
import type { Snapshot__Output } from '../proto/gen/gproc/v1/Snapshot';
import type { SpawnReply__Output } from '../proto/gen/gproc/v1/SpawnReply';
import type { SpawnRequest } from '../proto/gen/gproc/v1/SpawnRequest';
import type { TableUpdate__Output } from '../proto/gen/gproc/v1/TableUpdate';
import type { Usage__Output } from '../proto/gen/gproc/v1/Usage';
import type { WatchRequest } from '../proto/gen/gproc/v1/WatchRequest';
import { existsSync } from 'node:fs';
import {
  actAsMetadata,
  channelFor,
  CHANNEL_OPTIONS,
  ownTls,
  type Access,
  type ActAs,
} from './transport';

type Callback<T> = (err: ServiceError | null, value?: T) => void;

/**
 * How a request names a process to its agent: its pid and start time (clock ticks), so
 * the agent answers NOT_FOUND for a pid that was reused; a bare pid names whichever
 * process has it now (start time 0).
 */
export function processRef(p: number | { pid: number; starttime: number }): ProcessRef__Output {
  return typeof p === 'number' ? { pid: p, starttime: 0 } : { pid: p.pid, starttime: p.starttime };
}

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
    private readonly access: Access,
  ) {
    const Agent = agentService().Client;
    const { target, credentials } = channelFor(node, access);
    this.client = new Agent(target, credentials, CHANNEL_OPTIONS);
  }

  /**
   * Metadata of a call: a daemon names the user it acts for (root unless `as` says);
   * a user's calls carry nothing (the socket or its credential says who it is).
   */
  private md(as?: ActAs): Metadata {
    return actAsMetadata(this.access.role === 'daemon' ? (as ?? ROOT) : undefined);
  }

  private unary<T>(
    call: (md: Metadata, deadline: { deadline: number }, cb: Callback<T>) => unknown,
    as?: ActAs,
    deadlineMs?: number,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      call(
        this.md(as),
        { deadline: Date.now() + (deadlineMs ?? defaults.rpcDeadlineMs) },
        (err, value) => (err ? reject(err) : resolve(value as T)),
      );
    });
  }

  /** Every process of the node at one moment, with the node files. */
  snapshot(deadlineMs?: number): Promise<Snapshot__Output> {
    return this.unary((m, o, cb) => this.client.GetSnapshot({}, m, o, cb), undefined, deadlineMs);
  }

  /** Id, name, boot time (s), clock ticks per second, page size and the node files. */
  nodeInfo(deadlineMs?: number): Promise<NodeInfo__Output> {
    return this.unary((m, o, cb) => this.client.GetNodeInfo({}, m, o, cb), undefined, deadlineMs);
  }

  /** One whitelisted file of a process (tid 0) or of one of its threads. */
  async readFile(ref: ProcessRef, file: ProcessFileName, tid = 0): Promise<Buffer> {
    const reply = await this.unary<{ content: Buffer }>((m, o, cb) =>
      this.client.ReadProcessFile({ process: ref, file, tid }, m, o, cb),
    );
    return reply.content;
  }

  /** fdinfo/<fd> of a process, as its node's /proc gives it (PIDs untranslated). */
  async readFdinfo(ref: ProcessRef, fd: number): Promise<Buffer> {
    const reply = await this.unary<{ content: Buffer }>((m, o, cb) =>
      this.client.ReadProcessFile({ process: ref, file: 'FDINFO', fd }, m, o, cb),
    );
    return reply.content;
  }

  /**
   * The links of a process (exe cwd root, fd/ or ns/) and readlink(2) of each on its node.
   * @throws the agent's error: NOT_FOUND (gone), PERMISSION_DENIED (not the caller's).
   */
  async readLinks(ref: ProcessRef, set: 'LINKS' | 'FD' | 'NS'): Promise<ProcessLink__Output[]> {
    const reply = await this.unary<ProcessLinks__Output>((m, o, cb) =>
      this.client.ReadProcessLinks({ process: ref, set }, m, o, cb),
    );
    return reply.links;
  }

  /** pidusage of one process: cpu percent, memory bytes, elapsed ms. */
  usage(ref: ProcessRef): Promise<Usage__Output> {
    return this.unary((m, o, cb) => this.client.GetUsage(ref, m, o, cb));
  }

  /** Signals the targets (pid + starttime), acting for `as`; one outcome per target, in their order. */
  async signal(req: SignalRequest, as?: ActAs): Promise<SignalResult__Output[]> {
    const reply = await this.unary<{ results: SignalResult__Output[] }>(
      (m, o, cb) => this.client.Signal(req, m, o, cb),
      as,
    );
    return reply.results;
  }

  /**
   * Starts a process as the agent's child, as `as` (a daemon) or as ourselves; resolves to
   * its pid and starttime (clock ticks). Rejects with INVALID_ARGUMENT (empty command),
   * NOT_FOUND (no such command or working directory) or PERMISSION_DENIED (not executable,
   * or not admitted to the node).
   */
  spawn(req: SpawnRequest, as?: ActAs): Promise<SpawnReply__Output> {
    return this.unary((m, o, cb) => this.client.Spawn(req, m, o, cb), as);
  }

  /** A credential for us, sealed by this (our own node's) agent for the `audience` nodes. */
  seal(audience: number[]): Promise<{ token: string }> {
    return this.unary((m, o, cb) => this.client.Seal({ audience }, m, o, cb));
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

  /** Blocks until the process ends, acting for `as` (see `ready` for what bounds it). */
  wait(ref: ProcessRef, as?: ActAs): { result: Promise<ExitStatus__Output>; cancel: () => void } {
    let call: { cancel(): void } | undefined;
    let cancelled = false;
    const result = this.ready().then(
      () =>
        new Promise<ExitStatus__Output>((resolve, reject) => {
          if (cancelled)
            return reject(Object.assign(new Error('cancelled'), { code: status.CANCELLED }));
          call = this.client.Wait(ref, this.md(as), (err, value) =>
            err ? reject(err) : resolve(value!),
          );
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
    return this.client.Run(this.md());
  }

  /** The node's process table as it changes (a replica's feed, replica.ts), until cancelled. */
  watch(): ClientDuplexStream<WatchRequest, TableUpdate__Output> {
    return this.client.Watch(this.md());
  }

  /** The node's process starts and exits from now on, until cancelled. */
  events(): ClientReadableStream<ProcessEvent__Output> {
    return this.client.Events({}, this.md());
  }

  close(): void {
    this.client.close();
  }
}

const ROOT: ActAs = { uid: 0, gid: 0 };

/**
 * How a user's CLI reaches the cluster from node `self` (0: no node): its own node's
 * agent on its socket, the others with a credential that agent seals for it (once per
 * process, for every node of the cluster file, renewed before it expires).
 */
export function userAccess(config: ClusterConfig, self: number): Access {
  const access: Access = { config, self, role: 'user' };
  if (config.tls && self === 0 && process.getuid?.() === 0 && config.membership) {
    // A login host (no node, no agent to seal a credential): root speaks for itself with
    // the login host's own certificate, as the mount there does, where it can read it.
    const daemon: Access = { config, self, role: 'daemon' };
    try {
      const own = ownTls(daemon);
      if (existsSync(own.key) && existsSync(own.cert)) return daemon;
    } catch {
      // no certificate of its own: as a user
    }
  }
  if (!config.tls || self === 0) return access; // every agent on its socket (transport.ts)
  let sealed: { token: Promise<string>; renewAtMs: number } | undefined;
  access.credentials = {
    token: () => {
      if (!sealed || Date.now() > sealed.renewAtMs) {
        const local = new NodeClient(findNode(config, self), access);
        const audience = config.nodes.map((n) => n.id).filter((id) => id !== self);
        const token = local.seal(audience).then(
          (c) => c.token,
          (err: unknown) => {
            sealed = undefined;
            throw Object.assign(
              new Error(
                `this node's agent (${local.node.socket}) gave no credential: ${rpcReason(err)}`,
              ),
              {
                code: status.UNAUTHENTICATED,
              },
            );
          },
        );
        void token.finally(() => local.close()).catch(() => {});
        sealed = { token, renewAtMs: Date.now() + defaults.credentialLifetimeMs / 2 };
      }
      return sealed.token;
    },
  };
  return access;
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

/**
 * Whether a failed call was a refusal of who we are (our certificate or credential, or the
 * agent's certificate in our eyes), rather than a node that does not answer.
 */
export function isRefusal(err: unknown): boolean {
  const e = err as { code?: number; details?: string; message?: string };
  if (e.code === status.UNAUTHENTICATED) return true;
  return (
    e.code === status.UNAVAILABLE &&
    /certificate|SSL routines|alert|handshake|self[- ]signed/i.test(e.details ?? e.message ?? '')
  );
}
