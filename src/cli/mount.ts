/** `gproc mount --config FILE [--node N] MOUNTPOINT`: mount the cluster view (spec section 2). */
import type { Command } from 'commander';
import { defaults } from '../defaults';
import { TERMINATING_SIGNALS } from '../signals';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNodeId } from '../gpid';
import { killAfter } from '../watchdog';
import { action, CliError, clusterConfig, localNode, surviveUncaught, withConfig } from './common';

export function register(program: Command): void {
  withConfig(program.command('mount'))
    .description(
      'mount the cluster view (one /proc for every node) and stay in the foreground; Ctrl-C unmounts',
    )
    .argument('[mountpoint]', 'where to mount', defaults.mountPoint)
    .option(
      '--node <id|name>',
      'the node this machine is (default: $GPROC_NODE, else the node whose agent socket is here)',
    )
    .option(
      '--hidepid',
      "as procfs's hidepid=1: each process directory is mode 0500, so users see only their own processes' files",
      false,
    )
    .option(
      '--insecure',
      'accepted for symmetry with agent: plaintext gRPC on loopback when the cluster has no TLS',
      false,
    )
    .action(
      action(
        async (mountPoint: string, opts: { config?: string; node?: string; hidepid: boolean }) => {
          // Listened for from the start: a SIGINT while the view is still being mounted is
          // answered by unmounting once it is up, not by dying with the mounts left behind.
          const signalled = untilSignalled();
          const config = clusterConfig(opts);
          const { createLogger } = await import('../log');
          const { mountClusterView } = await import('../fs/mount');
          let membership: import('../cluster/membership').Membership | undefined;
          let node: number;
          if (config.membership) {
            // Nodes come and go by their registrations: watch them (cluster/membership.ts).
            const { EtcdMembership } = await import('../cluster/etcd-membership');
            const named = opts.node ?? process.env.GPROC_NODE;
            const id = named === undefined ? 0 : Number(named);
            if (!isNodeId(id) && named !== undefined)
              throw new CliError(`--node: with "membership", give this node's id (1..511)`);
            const { ownTls } = await import('../cluster/transport');
            const own = config.tls && ownTls({ config, self: id, role: 'daemon' });
            const etcd = new EtcdMembership(config, createLogger('membership'), own);
            // Bounded: a mount started while etcd is away mounts an empty view and fills it later.
            await Promise.race([etcd.loaded, sleep(defaults.etcdCallDeadlineMs)]);
            config.nodes = etcd.nodes();
            node = named === undefined ? localNode(config) : id;
            membership = etcd;
          } else node = localNode(config, opts.node);
          const log = createLogger('mount', { node });
          surviveUncaught(log);
          const mounted = await mountClusterView({
            config,
            mountPoint,
            localNode: node,
            log,
            membership,
            hidePid: opts.hidepid,
          });
          // SIGUSR2 logs the FUSE requests served so far, by operation (`make bench` reads them).
          process.on('SIGUSR2', () => log.info({ requests: mounted.view.counts }, 'FUSE requests'));
          const signal = await signalled;
          log.info({ signal }, 'unmounting');
          // A second signal leaves at once; so does a close that outlasts its bound (each
          // unmount has one: fs/mount.ts). Either way the next start clears what is left.
          const leave = (why: string) => {
            log.error({ why }, 'leaving before the view was closed');
            process.exit(1);
          };
          void untilSignalled().then((again) => leave(`second ${again}`));
          setTimeout(() => leave('close took too long'), defaults.mountCloseMs).unref();
          // That timer needs the main thread, which a command that cannot start holds in spawn.
          killAfter(
            defaults.mountCloseMs + defaults.stuckCloseKillMs,
            'leaving by SIGKILL: the close is stuck in the kernel',
            log.bindings(),
          );
          await mounted.close();
          log.info('unmounted');
          // Nothing a closed view left behind (a retrying gRPC channel, a timer) keeps us.
          process.exit(0);
        },
      ),
    );
}

/** Resolves on the first SIGINT, SIGTERM or SIGHUP. */
export function untilSignalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const sig of TERMINATING_SIGNALS) process.once(sig, () => resolve(sig));
  });
}
