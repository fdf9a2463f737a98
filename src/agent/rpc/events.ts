/**
 * Events: START and EXIT of this node's processes, as the watcher sees them, until the
 * caller goes away. The exit statuses of processes the agent started are their owners'
 * (and root's) to see; a reader that does not keep up is let go (RESOURCE_EXHAUSTED)
 * rather than buffered for without bound, and its client reconnects.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { defaults } from '../../defaults';
import type { ProcessEvent } from '../../proto/gen/gproc/v1/ProcessEvent';
import type { Viewer } from '../policy';
import { toServiceError } from '../rpc-error';
import type { SeenProcess } from '../watcher';
import type { AgentContext } from './context';

export function events(ctx: AgentContext, call: ServerWritableStream<unknown, ProcessEvent>): void {
  const { watcher, registry, policy } = ctx;
  let viewer: Viewer;
  try {
    viewer = policy.viewer(call, 'Events');
  } catch (err) {
    call.emit('error', toServiceError(err, ctx.log, 'Events'));
    return;
  }
  const mayKnow = (p: SeenProcess) => {
    const owner = registry.owner(p.pid, p.starttime);
    return owner === undefined || policy.maySeePrivate(viewer, owner);
  };
  let stopped = false;
  const send = (kind: 'START' | 'EXIT') => (p: SeenProcess) => {
    if (stopped) return;
    if (call.writableLength > defaults.eventsBufferBytes) {
      stop();
      call.emit('error', { code: status.RESOURCE_EXHAUSTED, details: 'events reader fell behind' });
      return;
    }
    const st =
      kind === 'EXIT' && mayKnow(p)
        ? (registry.heldStatus(p.pid, p.starttime) ?? { gone: true })
        : undefined;
    call.write({
      kind,
      pid: p.pid,
      starttime: p.starttime,
      ppid: p.ppid,
      comm: Buffer.from(p.comm, 'latin1'),
      status: st,
      timeMs: Date.now(),
    });
  };
  const onStart = send('START');
  const onExit = send('EXIT');
  watcher.on('start', onStart);
  watcher.on('exit', onExit);
  watcher.acquire();
  const stop = () => {
    if (stopped) return;
    stopped = true;
    watcher.off('start', onStart);
    watcher.off('exit', onExit);
    watcher.release();
  };
  call.once('cancelled', stop);
  call.once('close', stop);
}
