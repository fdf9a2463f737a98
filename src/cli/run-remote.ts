/**
 * The streaming half of `gproc run` (loaded only when it runs): one bidirectional gRPC call
 * carries stdin one way and stdout, stderr and the exit status the other, each side pausing
 * its source while the other is full.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { isRefusal, rpcReason, type NodeClient } from '../cluster/client';
import { defaults } from '../defaults';
import { onSilence } from '../liveness/monitor';
import { killedStatus, shellStatus } from '../exit-status';
import { signalNumber, TERMINATING_SIGNALS } from '../signals';
import { CliError, REFUSED_EXIT } from './common';
import type { RunOutput__Output } from '../proto/gen/gproc/v1/RunOutput';

/**
 * Runs `argv` on the node of `client` with our stdio, forwarding signals.
 * @returns the exit status to leave with (the remote one, or 126/127/255/1 for errors).
 * @throws CliError when the process cannot be started.
 */
export async function runRemote(client: NodeClient, argv: string[]): Promise<number> {
  const call = client.run();
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  // Who we are, and which process asked, the agent learns from the connection, not from us.
  call.write({ start: { argv, env, cwd: workingDirectory() } });

  // Our stdin to theirs, pausing while the stream is full.
  const stdin = process.stdin;
  stdin.on('data', (chunk: Buffer) => {
    if (!call.write({ stdin: chunk })) {
      stdin.pause();
      call.once('drain', () => stdin.resume());
    }
  });
  stdin.on('end', () => call.write({ stdinEof: true }));
  stdin.on('error', () => call.write({ stdinEof: true }));

  // Signals to the remote process group; the exit status it then sends is ours.
  for (const sig of TERMINATING_SIGNALS) {
    process.on(sig, () => call.write({ signal: signalNumber(sig) }));
  }

  return new Promise<number>((resolve, reject) => {
    let exit: number | undefined;
    const silent = () =>
      new CliError(`node ${client.node.id} (${client.node.address}) does not answer`, 255);
    // The run has no deadline, but its first answer (started, or why not) has one: a node
    // that accepts connections and never answers does not hang us.
    const firstAnswer = setTimeout(() => {
      reject(silent());
      call.cancel();
    }, defaults.runStartDeadlineMs);
    const answered = () => clearTimeout(firstAnswer);
    // Our reader went away (`gproc run ... | head`): stop the remote side and leave quietly,
    // with the status a process killed by SIGPIPE has.
    const readerGone = (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') return reject(err);
      call.cancel();
      resolve(killedStatus('SIGPIPE'));
    };
    process.stdout.on('error', readerGone);
    process.stderr.on('error', readerGone);
    // A node that stops answering (frozen, cut off) ends the run within the heartbeat's
    // bound, as ssh's ServerAlive would, rather than after the stream's keepalive.
    const unwatch = onSilence(client.node, () => {
      reject(
        new CliError(`node ${client.node.id} (${client.node.address}) stopped answering`, 255),
      );
      call.cancel();
    });
    call.on('data', (msg: RunOutput__Output) => {
      answered();
      if (msg.kind === 'stdout' || msg.kind === 'stderr') {
        const out = msg.kind === 'stdout' ? process.stdout : process.stderr;
        if (!out.write(msg[msg.kind]!)) {
          call.pause();
          out.once('drain', () => call.resume());
        }
      } else if (msg.kind === 'exit') {
        exit = shellStatus(msg.exit!);
      }
    });
    call.on('error', (err: { code?: number; details?: string; message: string }) => {
      answered();
      unwatch();
      const why = rpcReason(err);
      const node = `node ${client.node.id} (${client.node.address})`;
      if (isRefusal(err)) return reject(new CliError(`refused by ${node}: ${why}`, REFUSED_EXIT));
      if (err.code === grpcStatus.PERMISSION_DENIED && /not admitted/.test(why))
        return reject(new CliError(`refused by ${node}: ${why}`, REFUSED_EXIT));
      if (err.code === grpcStatus.NOT_FOUND) return reject(new CliError(why, 127));
      if (err.code === grpcStatus.PERMISSION_DENIED) return reject(new CliError(why, 126));
      if (err.code === grpcStatus.UNAVAILABLE || err.code === grpcStatus.DEADLINE_EXCEEDED) {
        return reject(new CliError(`${silent().message}: ${why}`, 255));
      }
      reject(new CliError(why, 1));
    });
    call.on('end', () => {
      answered();
      unwatch();
      stdin.destroy();
      // Let stdout and stderr drain before leaving.
      const done = () => resolve(exit ?? 255);
      process.stdout.write('', () => process.stderr.write('', done));
    });
  });
}

/** The directory to run in: ours (or what the shell says it was, if ours is gone: the node decides). */
function workingDirectory(): string {
  try {
    return process.cwd();
  } catch {
    return process.env.PWD ?? '/';
  }
}
