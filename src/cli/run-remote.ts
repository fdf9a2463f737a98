/**
 * The streaming half of `gproc run` (loaded only when it runs): one bidirectional gRPC call
 * per node carries stdin one way and stdout, stderr and the exit status the other, each
 * side pausing its source while the other is full.
 *
 * On one node without labels the output is passed through byte for byte. On several nodes
 * (or with labels) each node's output is cut into whole lines, so lines of different nodes
 * never mix, and labelled lines start with `NAME: ` as pdsh's and `srun -l`'s do.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { isRefusal, rpcReason, type NodeClient } from '../cluster/client';
import { defaults } from '../defaults';
import { onSilence } from '../liveness/monitor';
import { killedStatus, shellStatus } from '../exit-status';
import { signalNumber, TERMINATING_SIGNALS } from '../signals';
import { CliError, REFUSED_EXIT } from './common';
import { bytesMessage } from '../proto';
import type { RunInput } from '../proto/gen/gproc/v1/RunInput';
import type { RunOutput__Output } from '../proto/gen/gproc/v1/RunOutput';

export interface RunOptions {
  /** Prefix every output line with `NAME: ` (also cuts output into whole lines). */
  label?: boolean;
  /**
   * Give the remote command a terminal (one node only), as `ssh -t`: our terminal's size
   * (else $LINES x $COLUMNS, else 24 x 80), kept in step on SIGWINCH; our own terminal, if
   * stdin is one, is in raw mode meanwhile, so keys (^C, ^Z, arrows) reach the remote side.
   */
  terminal?: boolean;
}

/** Our terminal's size, or $LINES x $COLUMNS, or 24 x 80 (what a terminal starts with). */
function terminalSize(): { rows: number; cols: number } {
  const out = process.stdout;
  if (out.isTTY && out.rows > 0 && out.columns > 0) return { rows: out.rows, cols: out.columns };
  const env = (name: string, fallback: number) => {
    const n = Number(process.env[name]);
    return Number.isInteger(n) && n >= 1 && n <= 0xffff ? n : fallback;
  };
  return { rows: env('LINES', 24), cols: env('COLUMNS', 80) };
}

const noop = (): void => undefined;

/** Where one node's stdout or stderr goes. `write` false: wait for `drain` before more. */
interface Sink {
  write(chunk: Buffer): boolean;
  drain(cb: () => void): void;
  /** The output ended: a last line without its newline is written with one. */
  end(): void;
}

/** Our own stream, byte for byte. */
function rawSink(out: NodeJS.WriteStream): Sink {
  return {
    write: (chunk) => out.write(chunk),
    drain: (cb) => out.once('drain', cb),
    end: () => undefined,
  };
}

/** Whole lines to our stream, each after `prefix`; a partial line waits for its end. */
function lineSink(out: NodeJS.WriteStream, prefix: string): Sink {
  let partial: Buffer = Buffer.alloc(0);
  const lines = (buf: Buffer): Buffer =>
    prefix === ''
      ? buf
      : Buffer.from(
          buf
            .toString('latin1')
            .split('\n')
            .slice(0, -1)
            .map((l) => `${prefix}${l}\n`)
            .join(''),
          'latin1',
        );
  return {
    write: (chunk) => {
      const data = partial.length ? Buffer.concat([partial, chunk]) : chunk;
      const cut = data.lastIndexOf(0x0a) + 1;
      partial = data.subarray(cut);
      if (partial.length > defaults.runMaxLineBytes) {
        // A "line" this long is not one: pass it on rather than hold it.
        const whole = Buffer.concat([data.subarray(0, cut), partial, Buffer.from('\n')]);
        partial = Buffer.alloc(0);
        return out.write(lines(whole));
      }
      return cut === 0 ? true : out.write(lines(data.subarray(0, cut)));
    },
    drain: (cb) => out.once('drain', cb),
    end: () => {
      if (partial.length) out.write(lines(Buffer.concat([partial, Buffer.from('\n')])));
      partial = Buffer.alloc(0);
    },
  };
}

/**
 * Runs `argv` on the node of each client with our stdio: stdin goes to every node (as
 * srun's does), our SIGINT/SIGTERM/SIGHUP to every remote process group.
 * @returns the exit status to leave with: on one node its own (or 126/127/255/1 for
 * errors); on several the worst (highest) of them, each node's error printed on stderr
 * after its name.
 * @throws CliError (one node only) when the process cannot be started or the node is gone.
 */
export async function runRemote(
  clients: NodeClient[],
  argv: string[],
  opts: RunOptions = {},
): Promise<number> {
  const many = clients.length > 1 || opts.label === true;
  if (opts.terminal && many) throw new CliError('a terminal (-t) is for one node, unlabelled');
  const runs = clients.map((client) => {
    const prefix = opts.label ? `${client.node.name}: ` : '';
    return startRun(
      client,
      argv,
      {
        stdout: many ? lineSink(process.stdout, prefix) : rawSink(process.stdout),
        stderr: many ? lineSink(process.stderr, prefix) : rawSink(process.stderr),
      },
      opts.terminal ? terminalSize() : undefined,
    );
  });
  const stdin = process.stdin;
  if (opts.terminal) {
    const resize = () => runs[0].call.write({ resize: terminalSize() });
    process.on('SIGWINCH', resize);
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      const restore = () => stdin.isTTY && stdin.setRawMode(false);
      process.once('exit', restore);
      void runs[0].status.then(restore, restore);
    }
  }

  // Our stdin to theirs. What the pipe gives in one turn of the event loop (64 KiB a read),
  // or while a stream is full, goes as one message of up to `defaults.runMessageBytes`
  // (each message costs grpc-js and HTTP/2 the same work whatever its size); with that much
  // waiting on a full stream, stdin pauses. A run that ended takes no more (its call never
  // drains again), so it is left out rather than waited for.
  const live = new Set(runs);
  const over = new Map(runs.map((r) => [r, r.status.then(noop, noop)]));
  runs.forEach((r) => void over.get(r)!.then(() => live.delete(r)));
  let chunks: Buffer[] = [];
  let size = 0;
  let queued = false;
  /** Streams that are full: nothing more is sent until they drain. */
  let full = 0;
  const send = (atEnd = false) => {
    queued = false;
    if (size === 0 || (full > 0 && !atEnd)) return;
    const msg = bytesMessage('RunInput', 'stdin', chunks, size) as unknown as RunInput;
    chunks = [];
    size = 0;
    for (const r of live) {
      if (r.call.write(msg)) continue;
      full++;
      const drained = new Promise((resolve) => r.call.once('drain', resolve));
      void Promise.race([drained, over.get(r)]).then(() => {
        if (--full > 0) return;
        send();
        stdin.resume();
      });
    }
  };
  stdin.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= defaults.runMessageBytes) {
      send();
      if (size > 0) stdin.pause(); // not sent: a stream is full
    } else if (!queued && full === 0) {
      queued = true;
      setImmediate(send);
    }
  });
  const eof = () => {
    send(true);
    live.forEach((r) => r.call.write({ stdinEof: true }));
  };
  stdin.on('end', eof);
  stdin.on('error', eof);

  // Signals to the remote process groups; the exit statuses they then send are ours.
  for (const sig of TERMINATING_SIGNALS) {
    process.on(sig, () => runs.forEach((r) => r.call.write({ signal: signalNumber(sig) })));
  }
  // Our reader went away (`gproc run ... | head`): stop the remote sides and leave quietly,
  // with the status a process killed by SIGPIPE has.
  let readerLeft = false;
  const readerGone = new Promise<number>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') return reject(err);
      readerLeft = true;
      runs.forEach((r) => r.call.cancel());
      resolve(killedStatus('SIGPIPE'));
    };
    process.stdout.on('error', onError);
    process.stderr.on('error', onError);
  });

  const finished = many
    ? Promise.all(
        runs.map((r, i) =>
          r.status.catch((err: Error) => {
            // The calls we cancelled because our reader left end in errors of our own making.
            if (!readerLeft)
              process.stderr.write(`gproc: ${clients[i].node.name}: ${err.message}\n`);
            return err instanceof CliError ? err.exitCode : 1;
          }),
        ),
      ).then((statuses) => Math.max(...statuses))
    : runs[0].status;
  const status = await Promise.race([finished, readerGone]);
  stdin.destroy();
  // Let stdout and stderr drain before leaving.
  await new Promise<void>((resolve) =>
    process.stdout.write('', () => process.stderr.write('', () => resolve())),
  );
  return status;
}

/** One node's run: its call, and the exit status it ends with (or why it could not run). */
function startRun(
  client: NodeClient,
  argv: string[],
  out: { stdout: Sink; stderr: Sink },
  terminal?: { rows: number; cols: number },
): { call: ReturnType<NodeClient['run']>; status: Promise<number> } {
  const call = client.run();
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  // Who we are, and which process asked, the agent learns from the connection, not from us.
  call.write({ start: { argv, env, cwd: workingDirectory(), terminal } });
  const node = `node ${client.node.id} (${client.node.address})`;

  const status = new Promise<number>((resolve, reject) => {
    let exit: number | undefined;
    const silent = () => new CliError(`${node} does not answer`, 255);
    // The run has no deadline, but its first answer (started, or why not) has one: a node
    // that accepts connections and never answers does not hang us.
    const firstAnswer = setTimeout(() => {
      reject(silent());
      call.cancel();
    }, defaults.runStartDeadlineMs);
    const answered = () => clearTimeout(firstAnswer);
    // A node that stops answering (frozen, cut off) ends the run within the heartbeat's
    // bound, as ssh's ServerAlive would, rather than after the stream's keepalive.
    const unwatch = onSilence(client.node, () => {
      reject(new CliError(`${node} stopped answering`, 255));
      call.cancel();
    });
    call.on('data', (msg: RunOutput__Output) => {
      answered();
      if (msg.kind === 'stdout' || msg.kind === 'stderr') {
        const sink = out[msg.kind];
        if (!sink.write(msg[msg.kind]!)) {
          call.pause();
          sink.drain(() => call.resume());
        }
      } else if (msg.kind === 'exit') {
        exit = shellStatus(msg.exit!);
      }
    });
    call.on('error', (err: { code?: number; details?: string; message: string }) => {
      answered();
      unwatch();
      out.stdout.end();
      out.stderr.end();
      const why = rpcReason(err);
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
      out.stdout.end();
      out.stderr.end();
      resolve(exit ?? 255);
    });
  });
  return { call, status };
}

/** The directory to run in: ours (or what the shell says it was, if ours is gone: the node decides). */
function workingDirectory(): string {
  try {
    return process.cwd();
  } catch {
    return process.env.PWD ?? '/';
  }
}
