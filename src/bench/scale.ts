/**
 * `make bench-scale`: how gproc's costs grow with the number of nodes, on this one machine
 * (simulated nodes: agents in PID namespaces of their own, sharing its CPUs). For 1, 4, 16
 * and 64 nodes, with processes per node chosen so the machine holds them: cold `ps -ef`
 * over the view, `pgrep -f` of one process, a ctl write's p50, the mount's and the agents'
 * CPU per second while idle and while `top -d 1` runs over the view, their resident memory,
 * and what each agent writes per second (its wchar: the Watch stream to the mount,
 * heartbeat answers, its log). native-notes/scale.md reasons from these figures.
 */
import { writeFile } from 'node:fs/promises';
import { existsSync, mkdtempSync, rmdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGpid } from '../gpid';
import { pollUntil } from '../poll';
import {
  agentHostPid,
  inNode,
  median,
  mountView,
  overView,
  percentile,
  processCost,
  run,
  startNodes,
  timeLoop,
} from './setup';

const out = (line: string) => process.stdout.write(`  ${line}\n`);

/** Nodes, and sleeping processes on each. */
const POINTS: [number, number][] = [
  [1, 400],
  [4, 400],
  [16, 100],
  [64, 25],
];

interface Row {
  nodes: number;
  processes: number;
  psColdMs: number;
  pgrepMs: number;
  ctlP50Ms: number;
  mountIdle: number;
  agentIdle: number;
  mountTop: number;
  agentTop: number;
  mountRssMb: number;
  agentRssMb: number;
  /** Their anonymous part (processCost): what grows with processes. */
  mountAnonMb: number;
  agentAnonMb: number;
  agentBytesPerS: number;
}

export async function scale(): Promise<void> {
  const rows: Row[] = [];
  for (const [i, [nodes, perNode]] of POINTS.entries()) {
    rows.push(await measure(nodes, perNode, 7800 + i * 100));
    print(rows);
  }
}

async function measure(nodes: number, perNode: number, firstPort: number): Promise<Row> {
  const cluster = await startNodes(nodes, perNode, firstPort);
  const mnt = mkdtempSync(join(tmpdir(), 'gproc-bench-mnt-'));
  const view = await mountView(cluster, mnt);
  try {
    const last = cluster.nodes[nodes - 1];
    const [nsenter, ...args] = inNode(last);
    const { stdout } = await run(nsenter, [
      ...args,
      'sh',
      '-c',
      'sleep 100001 </dev/null >/dev/null 2>&1 & echo $!',
    ]);
    const ctl = `${mnt}/${encodeGpid(last.id, Number(stdout.trim()))}/ctl`;
    await pollUntil('the view to list the target', () => existsSync(ctl), 30000);
    const agents = cluster.nodes.map((n) => agentHostPid(n.initPid));
    const [prefix, setup] = overView(mnt);

    const psCold = await timeLoop(prefix, setup, 'ps -ef', 3, 1.3);
    const pgrep = await timeLoop(prefix, setup, 'pgrep -f "sleep 100001"', 3, 1.3);
    const ctlTimes: number[] = [];
    for (let k = 0; k < 40; k++) {
      const t0 = performance.now();
      await writeFile(ctl, k % 2 ? 'cont' : 'stop');
      ctlTimes.push(performance.now() - t0);
    }

    /** CPU % of one CPU per second of the mount and of the mean agent, and agent bytes/s, over `ms`. */
    const window = async (ms: number) => {
      const m0 = processCost(view.pid);
      const a0 = agents.map(processCost);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, ms));
      const s = (performance.now() - t0) / 1000;
      const m1 = processCost(view.pid);
      const a1 = agents.map(processCost);
      const pct = (ticks: number) => (ticks / 100 / s) * 100;
      const agentTicks = a1.reduce((n, a, k) => n + a.ticks - a0[k].ticks, 0) / agents.length;
      const agentBytes = a1.reduce((n, a, k) => n + a.bytes - a0[k].bytes, 0) / agents.length;
      return {
        mount: pct(m1.ticks - m0.ticks),
        agent: pct(agentTicks),
        bytesPerS: agentBytes / s,
      };
    };
    const idle = await window(5000);
    const top = spawn(prefix[0], [...prefix.slice(1), 'sh', '-c', `${setup}; top -b -d 1 -n 7`], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 1000));
    const busy = await window(5000);
    top.kill();
    const mb = (bytes: number) => bytes / 1024 / 1024;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const mountCost = processCost(view.pid);
    const agentCosts = agents.map(processCost);
    return {
      nodes,
      processes: view.processes(),
      psColdMs: median(psCold),
      pgrepMs: median(pgrep),
      ctlP50Ms: percentile(ctlTimes, 50),
      mountIdle: idle.mount,
      agentIdle: idle.agent,
      mountTop: busy.mount,
      agentTop: busy.agent,
      mountRssMb: mb(mountCost.rssBytes),
      agentRssMb: mb(mean(agentCosts.map((c) => c.rssBytes))),
      mountAnonMb: mb(mountCost.anonBytes),
      agentAnonMb: mb(mean(agentCosts.map((c) => c.anonBytes))),
      agentBytesPerS: idle.bytesPerS,
    };
  } finally {
    await view.stop();
    rmdirSync(mnt);
    cluster.stop();
  }
}

function print(rows: Row[]): void {
  const head = [
    'nodes',
    'procs',
    'ps -ef cold',
    'pgrep -f',
    'ctl p50',
    'mount CPU idle/top',
    'agent CPU idle/top',
    'mount RSS (anon)',
    'agent RSS (anon)',
    'agent B/s',
  ];
  const f = (x: number, d = 1) => x.toFixed(d);
  const table = [
    head,
    ...rows.map((r) => [
      String(r.nodes),
      String(r.processes),
      `${f(r.psColdMs, 0)} ms`,
      `${f(r.pgrepMs, 0)} ms`,
      `${f(r.ctlP50Ms)} ms`,
      `${f(r.mountIdle)}% / ${f(r.mountTop)}%`,
      `${f(r.agentIdle)}% / ${f(r.agentTop)}%`,
      `${f(r.mountRssMb, 0)} MB (${f(r.mountAnonMb, 0)})`,
      `${f(r.agentRssMb, 0)} MB (${f(r.agentAnonMb, 0)})`,
      `${f(r.agentBytesPerS / 1024)} KiB/s`,
    ]),
  ];
  const widths = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  out('');
  for (const r of table) out(r.map((c, i) => c.padStart(widths[i])).join('  '));
  out(
    '(CPU: % of one CPU; agent figures are the mean agent; anon: the anonymous part of the RSS, without the shared node binary; B/s: what an agent writes per second while idle)',
  );
}
