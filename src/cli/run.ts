/**
 * `gproc run --node N [--] CMD ARGS` (spec section 5): run CMD on node N like
 * `ssh host cmd` or `srun`: stdin, stdout and stderr streamed both ways over gRPC with
 * back-pressure, SIGINT/SIGTERM/SIGHUP forwarded to the remote process group, and the
 * remote exit status mirrored (128 + signal when killed). The environment and working
 * directory go along (as srun does); the process runs as the caller's uid and, in the
 * cluster view, is the caller's child, in the caller's process group and session.
 *
 * Exit statuses of its own: 127 command not found, 126 not executable, 255 node not
 * answering (as ssh), 1 other errors.
 */
import type { Command } from 'commander';
import { status as grpcStatus } from '@grpc/grpc-js';
import { action, CliError, clusterConfig, requesterOrigin, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('run'))
    .description('run CMD on a node with its input and output streamed here, like ssh host cmd or srun')
    .requiredOption('--node <id|name>', 'the node to run on')
    .argument('<cmd...>', 'command and arguments (after --)')
    .passThroughOptions()
    .action(
      action(async (cmd: string[], opts: { config?: string; node: string }) => {
        const config = clusterConfig(opts);
        const [{ findNode }, { NodeClient }, { signalNumber }, { shellStatus }] = await Promise.all([
          import('../config'),
          import('../cluster/client'),
          import('../signals'),
          import('../exit-status'),
        ]);
        const node = findNode(config, opts.node);
        if (cmd.length === 0 || cmd[0] === '') throw new CliError('empty command', 127);
        const client = new NodeClient(node, config);
        const status = await runRemote(client, cmd, signalNumber, shellStatus);
        client.close();
        process.exit(status);
      }),
    );
}

/** The directory to run in: ours (or what the shell says it was, if ours is gone: the node decides). */
function workingDirectory(): string {
  try {
    return process.cwd();
  } catch {
    return process.env.PWD ?? '/';
  }
}

type Client = InstanceType<typeof import('../cluster/client').NodeClient>;

async function runRemote(
  client: Client,
  argv: string[],
  signalNumber: (name: string) => number | undefined,
  shellStatus: (st: import('../exit-status').WireExit) => number,
): Promise<number> {
  const call = client.run();
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  call.write({ start: { argv, env, cwd: workingDirectory(), uid: process.getuid!(), gid: process.getgid!(), origin: requesterOrigin() } });

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
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => call.write({ signal: signalNumber(sig) }));
  }

  return new Promise<number>((resolve, reject) => {
    let exit: number | undefined;
    call.on('data', (msg) => {
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
      const why = err.details || err.message;
      if (err.code === grpcStatus.NOT_FOUND) return reject(new CliError(why, 127));
      if (err.code === grpcStatus.PERMISSION_DENIED) return reject(new CliError(why, 126));
      if (err.code === grpcStatus.UNAVAILABLE || err.code === grpcStatus.DEADLINE_EXCEEDED) {
        return reject(new CliError(`node ${client.node.id} (${client.node.address}) does not answer: ${why}`, 255));
      }
      reject(new CliError(why, 1));
    });
    call.on('end', () => {
      stdin.destroy();
      // Let stdout and stderr drain before leaving.
      const done = () => resolve(exit ?? 255);
      process.stdout.write('', () => process.stderr.write('', done));
    });
  });
}
