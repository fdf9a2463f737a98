/**
 * `make bench` section `fanout`: the job gproc exists for against the peer a user would
 * pick today. 4 simulated nodes x 1,000 processes; every process of every node listed by
 * `gproc exec -- ps -ef` (the view as /proc) against `pdsh -R ssh -w <4 nodes> ps -ef`,
 * each node running an OpenSSH server of its own inside its namespaces (on its own
 * loopback address, 127.0.0.11-14). Both are timed cold (1.3 s apart: the view's kernel
 * caches expired), as a person runs them. Target: gproc faster (ratio < 1).
 */
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import {
  CLI,
  inNode,
  median,
  mountView,
  run,
  sshKeys,
  startNodes,
  startSshd,
  timeLoop,
} from './setup';

const out = (line: string) => process.stdout.write(`  ${line}\n`);
const NODES = 4;
const PER_NODE = 1000;
const SSH_PORT = 7698;

export async function fanout(): Promise<void> {
  const cluster = await startNodes(NODES, PER_NODE, 7661);
  const mnt = mkdtempSync(join(tmpdir(), 'gproc-bench-mnt-'));
  const keys = await sshKeys();
  const sshds: { stop(): void }[] = [];
  const view = await mountView(cluster, mnt);
  try {
    const hosts = cluster.nodes.map((_, i) => `127.0.0.${11 + i}`);
    let options = '';
    for (const [i, node] of cluster.nodes.entries()) {
      const sshd = await startSshd({
        address: hosts[i],
        port: SSH_PORT,
        prefix: inNode(node),
        keys,
      });
      sshds.push(sshd);
      options = sshd.options;
    }
    const pdsh = `PDSH_SSH_ARGS_APPEND='${options}' pdsh -R ssh -l root -w ${hosts.join(',')} ps -ef`;
    const gproc = `${process.execPath} ${CLI} exec --mount ${mnt} -- ps -ef`;
    // Both list every process of the four nodes (each node's own ps, 1,000+ lines each).
    const lines = async (cmd: string) => (await run('sh', ['-c', `${cmd} | wc -l`])).stdout.trim();
    out(`lines listed: gproc ${await lines(gproc)}   pdsh ${await lines(pdsh)}`);
    const g = median(await timeLoop(['env'], '', `${gproc} >/dev/null`, 7, 1.3));
    const p = median(await timeLoop(['env'], '', `${pdsh} >/dev/null`, 7, 1.3));
    out(
      `${NODES} nodes x ${PER_NODE}: gproc exec -- ps -ef median ${g.toFixed(0)} ms   pdsh -R ssh ps -ef median ${p.toFixed(0)} ms`,
    );
    out(`ratio ${(g / p).toFixed(2)}x   (target < 1: faster than pdsh)`);
  } finally {
    sshds.forEach((s) => s.stop());
    await view.stop();
    rmdirSync(mnt);
    rmSync(keys, { recursive: true, force: true });
    cluster.stop();
  }
}
