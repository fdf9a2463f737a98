/**
 * What an agent tells Prometheus (spec section 8): counts and timings only, never a
 * process's command, user or pid. Every metric lives in the agent's own registry; the
 * endpoint is metrics/http.ts.
 *
 *   gproc_agent_processes                       gauge, processes of the node now (at scrape)
 *   gproc_agent_started_processes               gauge, live processes the agent started
 *   gproc_agent_connections{peer}               gauge, open connections by kind of peer
 *                                               (local, node, user, anonymous, refused)
 *   gproc_agent_snapshot_seconds                histogram, one reading of the whole /proc
 *   gproc_agent_rpc_seconds{method,code}        histogram, each gRPC call from its start to
 *                                               its status (code: OK, NOT_FOUND...); a
 *                                               stream's whole life for Run and Events
 *   gproc_agent_signals_total{result}           counter, signals: delivered, ESRCH, EPERM
 *   gproc_agent_spawns_total{method,result}     counter, starts by Spawn and Run: started,
 *                                               or the gRPC code of the refusal
 *
 * plus prom-client's default process metrics (CPU, memory, descriptors, event loop lag).
 */
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram } from 'prom-client';
import { defaults } from '../defaults';
import { daemonRegistry } from './registry';
import { listPids } from '../procfs/read';

/** What the agent's outcome of a signal is called in metrics (deliver.ts's Outcome). */
const SIGNAL_RESULTS = {
  DELIVERED: 'delivered',
  NO_SUCH_PROCESS: 'ESRCH',
  NOT_PERMITTED: 'EPERM',
} as const;

export class AgentMetrics {
  readonly registry = daemonRegistry();
  /** Open connections by kind of peer, read at each scrape (set by the agent's server). */
  connections: () => Record<string, number> = () => ({});
  /** Live processes the agent started, read at each scrape (set by the agent's service). */
  started: () => number = () => 0;

  private readonly rpc: Histogram<'method' | 'code'>;
  private readonly snapshot: Histogram;
  private readonly signals: Counter<'result'>;
  private readonly spawns: Counter<'method' | 'result'>;

  /** @param procRoot the /proc whose processes `gproc_agent_processes` counts. */
  constructor(procRoot: string) {
    const registers = [this.registry];
    new Gauge({
      name: 'gproc_agent_processes',
      help: 'Processes of the node (entries of its /proc), counted at each scrape.',
      registers,
      collect() {
        this.set(listPids(procRoot).length);
      },
    });
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    new Gauge({
      name: 'gproc_agent_started_processes',
      help: 'Live processes this agent started for the cluster (spawn, run).',
      registers,
      collect() {
        this.set(self.started());
      },
    });
    new Gauge({
      name: 'gproc_agent_connections',
      help: 'Open connections to the agent, by kind of peer (local, node, user, anonymous, refused).',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const [peer, n] of Object.entries(self.connections())) this.set({ peer }, n);
      },
    });
    this.snapshot = new Histogram({
      name: 'gproc_agent_snapshot_seconds',
      help: "Time of one reading of the node's process table (stat of every process, the rest of what changed), seconds.",
      buckets: [...defaults.snapshotSecondsBuckets],
      registers,
    });
    this.rpc = new Histogram({
      name: 'gproc_agent_rpc_seconds',
      help: 'gRPC calls served, from their start to their status, by method and status code, seconds.',
      labelNames: ['method', 'code'],
      buckets: [...defaults.rpcSecondsBuckets],
      registers,
    });
    this.signals = new Counter({
      name: 'gproc_agent_signals_total',
      help: 'Signals the agent was asked to send, by result: delivered, ESRCH (gone), EPERM.',
      labelNames: ['result'],
      registers,
    });
    this.spawns = new Counter({
      name: 'gproc_agent_spawns_total',
      help: 'Process starts asked of the agent, by method (Spawn, Run) and result: started, or the gRPC code of the refusal.',
      labelNames: ['method', 'result'],
      registers,
    });
    // Every result shows from the first scrape (at 0), so that rates and increases work.
    for (const r of Object.values(SIGNAL_RESULTS)) this.signals.labels(r).inc(0);
    for (const m of ['Spawn', 'Run']) this.spawns.labels(m, 'started').inc(0);
  }

  /** Times `take` (a snapshot of the whole /proc). */
  async timeSnapshot<T>(take: () => Promise<T>): Promise<T> {
    const end = this.snapshot.startTimer();
    try {
      return await take();
    } finally {
      end();
    }
  }

  /** Counts one signal's outcome (deliver.ts). */
  signal(outcome: keyof typeof SIGNAL_RESULTS): void {
    this.signals.labels(SIGNAL_RESULTS[outcome]).inc();
  }

  /**
   * Counts one start by `method`: `err` undefined when it started, else what refused it
   * (an RpcError's code; anything else counts as INTERNAL, as the caller is told).
   */
  spawn(method: 'Spawn' | 'Run', err?: unknown): void {
    const code = (err as { code?: unknown } | undefined)?.code;
    const result =
      err === undefined
        ? 'started'
        : typeof code === 'number' && status[code]
          ? status[code]
          : 'INTERNAL';
    this.spawns.labels(method, result).inc();
  }

  /**
   * The gRPC server interceptor that times every call of every method, unary or stream, in
   * one place: from its start to the status the agent sends (a call its client cancelled
   * counts as CANCELLED, or DEADLINE_EXCEEDED when its deadline had passed).
   */
  interceptor(): ServerInterceptor {
    return (method, call) => {
      const name = method.path.slice(method.path.lastIndexOf('/') + 1);
      const start = performance.now();
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        this.rpc
          .labels(name, status[code] ?? String(code))
          .observe((performance.now() - start) / 1000);
      };
      const cancelled = () => {
        const deadline = call.getDeadline();
        const passed = deadline instanceof Date ? deadline.getTime() : deadline;
        finish(passed <= Date.now() ? status.DEADLINE_EXCEEDED : status.CANCELLED);
      };
      return new ServerInterceptingCall(
        call,
        new ResponderBuilder()
          .withStart((next) => next(new ServerListenerBuilder().withOnCancel(cancelled).build()))
          .withSendStatus((st, next) => {
            finish(st.code);
            next(st);
          })
          .build(),
      );
    };
  }
}
