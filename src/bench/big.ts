/**
 * `make bench-big`: issue 12's acceptance run, 8 nodes x 2,000 processes on this machine.
 * The nodes start empty and the view is mounted; then every node starts its 2,000 sleeping
 * processes at once (the moment a loaded node used to drop out of the view). Throughout,
 * `nodes/<id>/state` of every node is read every 250 ms; once all processes exist, three
 * `ps -ef` over the view count them. Printed: looks at which any node was not `up`, each
 * `ps -ef`'s count and time, the most resident memory the mount and any agent reached
 * (targets: every look up, every ps 16,000+, mount <= 150 MB, each agent <= 80 MB).
 */
import { readFileSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../poll';
import {
  agentHostPid,
  inNode,
  mountView,
  overView,
  processCost,
  run,
  startNodes,
  timeLoop,
} from './setup';

const NODES = 8;
const PER_NODE = 2000;
const out = (line: string) => process.stdout.write(`  ${line}\n`);

export async function big(): Promise<void> {
  const cluster = await startNodes(NODES, 0, 8800);
  const mnt = mkdtempSync(join(tmpdir(), 'gproc-bench-mnt-'));
  const view = await mountView(cluster, mnt);
  try {
    const agents = cluster.nodes.map((n) => agentHostPid(n.initPid));
    const mb = (bytes: number) => bytes / 1024 / 1024;
    // The most seen, all of it and its anonymous part (processCost), each on its own.
    const most = { mountRss: 0, mountAnon: 0, agentRss: 0, agentAnon: 0 };
    let looks = 0;
    const notUp: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        looks++;
        for (const n of cluster.nodes) {
          const state = readFileSync(join(mnt, 'nodes', String(n.id), 'state'), 'utf8').trim();
          if (state !== 'up') notUp.push(`node ${n.id} ${state} at look ${looks}`);
        }
        const mount = processCost(view.pid);
        const agent = agents.map(processCost);
        most.mountRss = Math.max(most.mountRss, mb(mount.rssBytes));
        most.mountAnon = Math.max(most.mountAnon, mb(mount.anonBytes));
        most.agentRss = Math.max(most.agentRss, ...agent.map((c) => mb(c.rssBytes)));
        most.agentAnon = Math.max(most.agentAnon, ...agent.map((c) => mb(c.anonBytes)));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const t0 = performance.now();
    const loop = `i=0; while [ $i -lt ${PER_NODE} ]; do sleep 100000 </dev/null >/dev/null 2>&1 & i=$((i+1)); done`;
    await Promise.all(
      cluster.nodes.map((n) => run(inNode(n)[0], [...inNode(n).slice(1), 'sh', '-c', loop])),
    );
    const want = NODES * PER_NODE;
    await pollUntil('every process listed', () => view.processes() >= want, 180000, 500);
    out(
      `${want} processes started and listed ${((performance.now() - t0) / 1000).toFixed(1)} s after the first start`,
    );
    const [prefix, setup] = overView(mnt);
    const counts: string[] = [];
    const times = await timeLoop(prefix, setup, 'ps -ef | wc -l > /dev/null', 3, 1.3);
    for (let k = 0; k < 3; k++) {
      const { stdout } = await run(prefix[0], [
        ...prefix.slice(1),
        'sh',
        '-c',
        `${setup}; ps -ef | wc -l`,
      ]);
      counts.push(String(Number(stdout.trim()) - 1));
      await new Promise((r) => setTimeout(r, 1300));
    }
    sampling = false;
    await sampler;
    out(
      `state: ${looks} looks at ${NODES} nodes, ${notUp.length} not up${notUp.length ? `: ${notUp.slice(0, 5).join('; ')}` : ''} (target: 0)`,
    );
    out(
      `ps -ef lines: ${counts.join(', ')} (target: >= ${want} each); times ${times.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')}`,
    );
    out(
      `most resident memory: mount ${most.mountRss.toFixed(0)} MB (target <= 150), an agent ${most.agentRss.toFixed(0)} MB (target <= 80); anonymous part: mount ${most.mountAnon.toFixed(0)} MB, an agent ${most.agentAnon.toFixed(0)} MB`,
    );
  } finally {
    await view.stop();
    rmdirSync(mnt);
    cluster.stop();
  }
}
