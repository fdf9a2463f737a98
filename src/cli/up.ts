/**
 * `gproc up [--simulate K] [--mount DIR]`: the embedded default (spec section 2). Without
 * options this machine is a one-node cluster, mounted at /cluster/proc; with --simulate K,
 * K nodes each in its own PID and time namespace with a few demo processes. Ctrl-C
 * unmounts and stops everything it started; leftovers of an `up` that was killed are
 * stopped on the next start.
 */
import type { Command } from 'commander';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { findNode, splitAddress } from '../config';
import { upFiles, type UpFiles } from '../up/files';
import { defaults } from '../defaults';
import { action, CliError, surviveUncaught } from './common';
import { untilSignalled } from './mount';
import { killAfter } from '../watchdog';
import { setTimeout as sleep } from 'node:timers/promises';

/** Demo processes of a simulated node: a named sleeper, a busy-ish shell loop, a pipeline. */
function demoProcesses(id: number): string {
  return [
    `sleep ${100000 + id} &`,
    `sh -c 'while :; do sleep 7; done' &`,
    `sh -c 'sleep 99999 | cat' &`,
  ].join('\n');
}

/**
 * Stops what an earlier `gproc up` left behind when it was killed before it could: the
 * PIDs file lists that `up` first, then its agents and node inits. A live `up` is not
 * touched (this one refuses to start instead); a stopped one (SIGSTOP: frozen, its mount
 * would never answer) is killed and its leftovers stopped as a killed one's. A listed
 * process is killed only if its command line still names this `up`'s cluster file, so a
 * reused PID is left alone. Nothing here looks at the mount point; its stale mounts are
 * cleared by mountClusterView.
 * @throws CliError when another `gproc up` is running.
 */
function stopLeftovers(files: UpFiles, isStopped: (pid: number) => boolean): void {
  let pids: number[];
  try {
    pids = readFileSync(files.pids, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return;
  }
  const cmdline = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      return '';
    }
  };
  const [upPid, ...started] = pids;
  if (upPid !== process.pid && /\0up(\0|$)/.test(cmdline(upPid))) {
    if (isStopped(upPid)) {
      process.kill(upPid, 'SIGKILL');
      process.stderr.write(
        `gproc: the earlier "gproc up" (pid ${upPid}) was stopped (frozen): killed it, taking over\n`,
      );
    } else
      throw new CliError(
        `another "gproc up" (pid ${upPid}) is running; stop it first (Ctrl-C, or kill -INT ${upPid})`,
      );
  }
  for (const pid of started) {
    if (cmdline(pid).includes(files.config)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  rmSync(files.pids, { force: true });
}

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'run this machine as a one-node cluster (or simulate K nodes) and mount the cluster view',
    )
    .option('--simulate <k>', 'simulate K nodes, each in its own PID namespace', (v) => Number(v))
    .option('--mount <dir>', 'where to mount the cluster view', defaults.mountPoint)
    .option(
      '--base-port <port>',
      'port of node 1 on 127.0.0.1; node N gets base + N - 1',
      (v) => Number(v),
      defaults.basePort,
    )
    .action(
      action(async (opts: { simulate?: number; mount: string; basePort: number }) => {
        const k = opts.simulate ?? 1;
        if (!Number.isInteger(k) || k < 1 || k > 64)
          throw new CliError('--simulate takes a number of nodes from 1 to 64');
        const simulate = opts.simulate !== undefined;
        const [
          { launchCluster },
          { mountClusterView },
          { isStopped },
          { createLogger },
          { NodeClient },
          { pollUntil },
        ] = await Promise.all([
          import('../up/nodes'),
          import('../fs/mount'),
          import('../fs/stale-mount'),
          import('../log'),
          import('../cluster/client'),
          import('../poll'),
        ]);
        if (
          !Number.isInteger(opts.basePort) ||
          opts.basePort < 1 ||
          opts.basePort + k - 1 > 65535
        ) {
          throw new CliError('--base-port takes a port from 1 to 65535 (node N gets base + N - 1)');
        }
        const log = createLogger('up');
        surviveUncaught(log); // this process serves the mount
        const files = upFiles(opts.mount);
        mkdirSync(files.dir, { recursive: true });
        stopLeftovers(files, isStopped);

        const name = simulate
          ? (i: number) => `sim${i}`
          : () =>
              hostname()
                .replace(/[^A-Za-z0-9._-]/g, '-')
                .slice(0, 60) || 'local';
        const nodes = Array.from({ length: k }, (_, i) => ({
          id: i + 1,
          name: name(i + 1),
          address: `127.0.0.1:${opts.basePort + i}`,
          socket: `${files.dir}/agent-${i + 1}.sock`,
        }));
        // An agent that cannot listen would leave its node to whatever answers on its port
        // (another cluster's agent): the ports must be free (leftovers just stopped free theirs).
        for (const n of nodes) {
          const port = splitAddress(n.address).port;
          await pollUntil(`port ${port}`, () => portFree(port), 2000).catch(() => {
            throw new CliError(
              `port ${port} on 127.0.0.1 is in use (another gproc up? give --base-port)`,
            );
          });
        }

        // From here on Ctrl-C stops whatever has started, at any stage.
        let stopping = false;
        const signalled = untilSignalled().then(() => (stopping = true));
        // Simulated nodes speak mutual TLS, each with a certificate of its own, as real ones do:
        // users' requests then reach other nodes vouched for by their own node's agent.
        const tls = simulate
          ? (await import('./certs')).makeCertificates(`${files.dir}/pki`, nodes)
          : undefined;
        const {
          config,
          nodes: launched,
          stop,
        } = await launchCluster(
          files.config,
          nodes,
          (n) => ({
            logFile: `${files.dir}/agent-${n.id}.log`,
            auditLog: `${files.dir}/audit-${n.id}.log`,
            // Simulated nodes share the machine's disk and boot id: a state directory each.
            stateDir: simulate ? `${files.dir}/state-${n.id}` : undefined,
            simulate,
            bootOffset: n.id * 3600,
            hostname: simulate ? n.name : undefined,
            preamble: simulate ? demoProcesses(n.id) : undefined,
          }),
          { tls },
        );
        writeFileSync(
          files.pids,
          [process.pid, ...launched.flatMap((l) => [l.pid, l.initPid])].join('\n'),
        );
        const stopAll = () => {
          stop();
          rmSync(files.pids, { force: true });
        };

        try {
          // Wait until every agent answers (or say which does not).
          await Promise.all(
            nodes.map(async (n) => {
              const client = new NodeClient(findNode(config, n.id), {
                config,
                self: n.id,
                role: 'daemon',
              });
              try {
                await pollUntil(
                  `node ${n.id}'s agent`,
                  () => (stopping ? true : client.nodeInfo().then(() => true)),
                  15000,
                );
              } catch {
                throw new CliError(
                  `node ${n.id}'s agent did not start (port ${splitAddress(n.address).port} in use? see ${files.dir}/agent-${n.id}.log)`,
                );
              } finally {
                client.close();
              }
            }),
          );
          if (stopping) return;
          const mounted = await mountClusterView({
            config,
            mountPoint: opts.mount,
            localNode: 1,
            log,
          });
          const gproc = `node ${process.argv[1]}`;
          process.stdout.write(
            [
              `gproc: ${k} node${k > 1 ? 's' : ''} up; the cluster view is mounted at ${mounted.mountPoint}`,
              `  ls ${mounted.mountPoint}     cat ${mounted.mountPoint}/<gpid>/status     ${gproc} ps${mounted.mountPoint === defaults.mountPoint ? '' : ` --mount ${mounted.mountPoint}`}`,
              `  for gproc run, kill and wait: export GPROC_CONFIG=${files.config}`,
              'Ctrl-C stops everything.',
              '',
            ].join('\n'),
          );
          await signalled;
          // Bounded as gproc mount's close is (cli/mount.ts): past the bound the agents are
          // stopped all the same, and what is left of the view is the next start's to clear.
          killAfter(
            defaults.mountCloseMs + defaults.stuckCloseKillMs,
            'leaving by SIGKILL: the close is stuck in the kernel',
            log.bindings(),
          );
          const closed = await Promise.race([
            mounted.close().then(() => true),
            sleep(defaults.mountCloseMs, false, { ref: false }),
          ]);
          if (!closed) log.error('the view did not close in time: the next start clears it');
        } finally {
          stopAll();
        }
      }),
    );
}

/** True when nothing listens on 127.0.0.1:`port` (this process could listen there). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
