/**
 * Watch: the node's process table as it changes (table.ts), for a caller that keeps a
 * replica of it (a mount). The first message is the whole table; then one message per
 * reading of the table (every `defaults.watchIntervalMs` while anyone watches, and at once
 * when a caller sends a request), carrying what changed since this stream's last message.
 *
 * Back-pressure: while more than `defaults.watchBufferBytes` wait unsent, readings are not
 * sent; the first one after the reader drained carries everything that changed meanwhile,
 * since each message is measured against what this stream last sent. So a slow reader
 * costs the agent one bounded buffer and loses nothing. The connection's keepalive (the
 * agent's own, server.ts) ends a stream whose reader went silent.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { defaults } from '../../defaults';
import type { Process__Output } from '../../proto/gen/gproc/v1/Process';
import type { TableUpdate } from '../../proto/gen/gproc/v1/TableUpdate';
import type { WatchRequest__Output } from '../../proto/gen/gproc/v1/WatchRequest';
import type { Viewer } from '../policy';
import { toServiceError } from '../rpc-error';
import { agentStarted } from '../snapshot';
import { diffTable, type TableState } from '../table';
import type { AgentContext } from './context';
import { visibleTo } from './snapshot';

export function watch(
  ctx: AgentContext,
  call: ServerDuplexStream<WatchRequest__Output, TableUpdate>,
): void {
  const { table, log } = ctx;
  let viewer: Viewer;
  try {
    viewer = ctx.policy.viewer(call, 'Watch');
  } catch (err) {
    call.emit('error', toServiceError(err, log, 'Watch'));
    return;
  }
  const sent = new Map<number, Process__Output>();
  let full = true;
  /** A reading begun before this (monotonic ms) is not sent as the first, full message. */
  let firstFrom = -Infinity;
  let stopped = false;
  /** Requests not answered yet: id -> when it arrived (monotonic ms). */
  const asked = new Map<number, number>();
  const send = (state: TableState) => {
    if (stopped || (full && state.begunAt < firstFrom)) return;
    let answers = 0;
    for (const [id, at] of asked) if (at <= state.begunAt) answers = Math.max(answers, id);
    // Behind: nothing new goes out (what changed waits for the next reading after it drained),
    // except the answer to a request, which the caller waits for.
    if (call.writableLength > defaults.watchBufferBytes && !answers) return;
    for (const id of asked.keys()) if (id <= answers) asked.delete(id);
    const update = diffTable(sent, state, full);
    full = false;
    log.debug(
      { full: update.full, changed: update.changed!.length, gone: update.gone!.length, answers },
      'watch update',
    );
    call.write(
      visibleTo(ctx, viewer, {
        ...update,
        ...agentStarted(ctx.registry, state.processes),
        answers,
      }),
    );
  };
  const readNow = (after = false) =>
    (after ? table.readAfterNow() : table.read()).catch((err: Error) => {
      log.error({ err: err.message }, 'table reading failed');
    });
  table.on('update', send);
  table.acquire();
  const stop = () => {
    if (stopped) return;
    stopped = true;
    table.off('update', send);
    table.release();
  };
  call.on('data', (req: WatchRequest__Output) => {
    if (asked.size >= defaults.watchMaxRequests) return; // a flood: the ones held are answered first
    asked.set(req.id, performance.now());
    void readNow(true);
  });
  call.once('end', () => {
    stop();
    call.end();
  });
  call.once('cancelled', stop);
  call.once('close', stop);
  call.once('error', stop);
  // The first message: the last reading if it is recent (the timer's) and lists every
  // process this agent started, else a new one. A mount that starts after a spawn must list
  // the spawned process at once: its caller may already hold the gpid.
  const last = table.last;
  if (
    last &&
    Date.now() - last.takenAtMs < defaults.watchIntervalMs &&
    ctx.registry.listsEveryStart(last)
  )
    send(last);
  else {
    firstFrom = performance.now();
    void readNow(true);
  }
}
