/**
 * `gproc wait GPID` (spec section 5): blocks until the process ends, prints
 * `exited N` / `killed SIGNAME` / `gone`, and exits as `gproc run` would (N, 128 + signal,
 * 127 for gone). Interruptible, unlike a read of `<gpid>/wait` that FUSE cannot cancel.
 */
import type { Command } from 'commander';
import { action, CliError, clusterWithNodes, localNode, REFUSED_EXIT, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('wait'))
    .description('wait for a process of any node to end; print and exit with its status')
    .argument('<gpid>', 'global pid, as a number or NODE:PID')
    .action(
      action(async (gpidText: string, opts: { config?: string }) => {
        const [
          { parseGpid, decodeGpid },
          { NodeClient, rpcReason, isRefusal, userAccess, processRef },
          { describeExit, shellStatus },
          { status: grpcStatus },
        ] = await Promise.all([
          import('../gpid'),
          import('../cluster/client'),
          import('../exit-status'),
          import('@grpc/grpc-js'),
        ]);
        const config = await clusterWithNodes(opts);
        const { node, pid } = decodeGpid(parseGpid(gpidText));
        const nodeConfig = config.nodes.find((n) => n.id === node);
        if (!nodeConfig) throw new CliError(`${gpidText}: node ${node} is not in ${config.source}`);
        const client = new NodeClient(nodeConfig, userAccess(config, localNode(config)));
        const { result, cancel } = client.wait(processRef(pid));
        // A node that stops answering ends the wait within the heartbeat's bound.
        const { onSilence } = await import('../liveness/monitor');
        onSilence(nodeConfig, () => {
          cancel();
          process.stderr.write(`gproc: node ${node} (${nodeConfig.address}) stopped answering\n`);
          process.exit(255);
        });
        process.once('SIGINT', () => {
          cancel();
          process.exit(130);
        });
        const st = await result.catch((err: Error) => {
          if (isRefusal(err))
            throw new CliError(`refused by node ${node}: ${rpcReason(err)}`, REFUSED_EXIT);
          if ((err as { code?: number }).code === grpcStatus.PERMISSION_DENIED)
            throw new CliError(rpcReason(err));
          throw new CliError(`node ${node} does not answer: ${rpcReason(err)}`, 255);
        });
        process.stdout.write(`${describeExit(st)}\n`);
        process.exit(shellStatus(st));
      }),
    );
}
