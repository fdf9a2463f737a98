/** The measures of `make bench`, each self-contained: it starts what it needs and stops it. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../defaults';
import { encodeGpid } from '../gpid';
import { pollUntil } from '../poll';
import { hostPidOf } from '../up/nodes';
import {
  agentHostPid,
  CLI,
  cpuTicks,
  type BenchMount,
  type FloorMount,
  inNode,
  processCost,
  median,
  mountView,
  overView,
  percentile,
  run,
  startFloor,
  startNodes,
  startSshd,
  timeLoop,
} from './setup';

const out = (line: string) => process.stdout.write(`  ${line}\n`);
const ms = (x: number) => `${x.toFixed(1)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** A fresh mount point. */
const mountPoint = () => mkdtempSync(join(tmpdir(), 'gproc-bench-mnt-'));

/**
 * CPU clock ticks (median of `runs`) that one transfer through `cat` costs each process on
 * its path: the client (`command` after its feed's `|`, timed by /usr/bin/time, run after
 * `prefix`; the remote command prints cat's cost with the shell's `times`), the daemons (their
 * own ticks), what the last daemon started and reaped, but for cat (gproc's shim, or sshd's
 * session processes and shell), and cat (the remote shell's `times`).
 */
async function transferCost(
  prefix: readonly string[],
  command: string,
  daemons: number[],
  runs: number,
): Promise<{ client: number; daemon: number[]; started: number; cat: number; total: number }> {
  const samples: { client: number; daemon: number[]; started: number; cat: number }[] = [];
  const sec = (m: string, s: string) => Number(m) * 60 + Number(s);
  for (let i = 0; i < runs; i++) {
    const before = daemons.map(cpuTicks);
    const { stderr } = await run(prefix[0], [
      ...prefix.slice(1),
      '/bin/sh',
      '-c',
      command.replace('|', "| /usr/bin/time -f 'client %U %S'") + ' >/dev/null',
    ]);
    await new Promise((r) => setTimeout(r, 300)); // the daemon reaps what it started
    const after = daemons.map(cpuTicks);
    const client = /^client ([\d.]+) ([\d.]+)$/m.exec(stderr);
    const times = [...stderr.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)];
    if (!client || times.length < 2) throw new Error(`no times from ${command}: ${stderr}`);
    const [, m1, s1, m2, s2] = times[times.length - 1];
    const cat = Math.round((sec(m1, s1) + sec(m2, s2)) * 100);
    const last = daemons.length - 1;
    samples.push({
      client: Math.round((Number(client[1]) + Number(client[2])) * 100),
      daemon: after.map((a, j) => a.own - before[j].own),
      started: after[last].reaped - before[last].reaped - cat,
      cat,
    });
  }
  const total = samples.map(
    (x) => x.client + x.daemon.reduce((a, b) => a + b, 0) + x.started + x.cat,
  );
  return {
    client: median(samples.map((x) => x.client)),
    daemon: daemons.map((_, j) => median(samples.map((x) => x.daemon[j]))),
    started: median(samples.map((x) => x.started)),
    cat: median(samples.map((x) => x.cat)),
    total: median(total),
  };
}

export const sections: Record<string, () => Promise<void>> = {
  async ctl() {
    const cluster = await startNodes(2, 0, 7631);
    const mnt = mountPoint();
    const mount = spawn(
      process.execPath,
      [CLI, 'mount', '--config', cluster.configPath, '--node', '1', mnt],
      { stdio: 'ignore' },
    );
    try {
      // A sleep on node 2, controlled from node 1's mount.
      const [nsenter, ...args] = inNode(cluster.nodes[1]);
      const { stdout } = await run(nsenter, [
        ...args,
        'sh',
        '-c',
        'sleep 100000 </dev/null >/dev/null 2>&1 & echo $!',
      ]);
      const pid = Number(stdout.trim());
      const gpid = encodeGpid(2, pid);
      const ctl = `${mnt}/${gpid}/ctl`;
      await pollUntil('the view to list the target', () => existsSync(ctl), 15000);
      const hostPid = hostPidOf(cluster.nodes[1].initPid, pid);
      if (hostPid === undefined) throw new Error(`no host pid for ${pid} of node 2`);
      const viaCtl: number[] = [];
      const viaKill: number[] = [];
      for (let i = 0; i < 300; i++) {
        for (const cmd of ['stop', 'cont']) {
          const t0 = process.hrtime.bigint();
          await writeFile(ctl, cmd);
          viaCtl.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        for (const sig of ['SIGSTOP', 'SIGCONT'] as const) {
          const t0 = process.hrtime.bigint();
          process.kill(hostPid, sig);
          viaKill.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }
      const killCmd = await timeLoop(
        ['env'],
        '',
        `kill -STOP ${hostPid}; kill -CONT ${hostPid}`,
        50,
      );
      out(
        `stop or cont of a sleep on node 2, written to its ctl on node 1's mount (${viaCtl.length} writes)`,
      );
      out(
        `ctl write          p50 ${ms(percentile(viaCtl, 50))}   p99 ${ms(percentile(viaCtl, 99))}   (target p50 <= 2 ms)`,
      );
      const us = (x: number) => `${(x * 1000).toFixed(0)} us`;
      out(
        `local kill(2)      p50 ${us(percentile(viaKill, 50))}   p99 ${us(percentile(viaKill, 99))}`,
      );
      out(
        `local kill(1) -STOP + -CONT, two commands: p50 ${ms(percentile(killCmd, 50))}   p99 ${ms(percentile(killCmd, 99))}`,
      );
      out(`ratio p50 ctl / kill(2): ${ratio(percentile(viaCtl, 50), percentile(viaKill, 50))}`);
    } finally {
      mount.kill('SIGINT');
      await new Promise((r) => mount.once('exit', r));
      rmdirSync(mnt);
      cluster.stop();
    }
  },

  async run() {
    const cluster = await startNodes(2, 0, 7641);
    let sshd: Awaited<ReturnType<typeof startSshd>> | undefined;
    try {
      sshd = await startSshd(); // in here: a missing sshd must not leave the nodes running
      const cli = `${process.execPath} ${CLI} run --config ${cluster.configPath}`;
      // As a user of node 1 reaches node 2: TLS, with a credential its own agent sealed.
      const fromNode1 = inNode(cluster.nodes[0]);
      const remote = `env GPROC_NODE=1 ${cli} --node 2 --`;
      // On the node's own Unix socket (this machine holds every simulated node's).
      const local = `${cli} --node 2 --`;
      const ssh = `ssh ${sshd.options} root@127.0.0.1`;
      for (const [prefix, cmd] of [
        [fromNode1, remote],
        [['env'], local],
      ] as const) {
        const { stdout } = await run(prefix[0], [
          ...prefix.slice(1),
          '/bin/sh',
          '-c',
          `${cmd} echo ok`,
        ]);
        if (stdout !== 'ok\n') throw new Error(`gproc run did not work: ${cmd}`);
      }
      await timeLoop(['env'], '', `${ssh} true`, 1); // accept the host key, warm the caches
      const g = median(await timeLoop(fromNode1, '', `${remote} true`, 15));
      const l = median(await timeLoop(['env'], '', `${local} true`, 15));
      const s = median(await timeLoop(['env'], '', `${ssh} true`, 15));
      out(
        `remote true: gproc run node 1 -> node 2 (TLS + sealed credential) median ${ms(g)}   on the node's socket ${ms(l)}   ssh (local sshd, key auth) ${ms(s)}`,
      );
      out(`ratio ${ratio(g, s)} (socket: ${ratio(l, s)})   (target <= 0.5)`);
      const mib = 100;
      const feed = `head -c ${mib * 1024 * 1024} /dev/zero |`;
      const gs = median(await timeLoop(fromNode1, '', `${feed} ${remote} cat`, 3));
      const ss = median(await timeLoop(['env'], '', `${feed} ${ssh} cat`, 3));
      out(
        `${mib} MiB through cat: gproc run node 1 -> node 2 ${(mib / (gs / 1000)).toFixed(0)} MiB/s   ssh ${(mib / (ss / 1000)).toFixed(0)} MiB/s   (gproc's throughput ${ratio(ss, gs)} of ssh's; target >= 1)`,
      );
      // On a busy machine the CPU each byte costs bounds the throughput: each process's.
      const g1 = agentHostPid(cluster.nodes[0].initPid);
      const g2 = agentHostPid(cluster.nodes[1].initPid);
      const timed = `sh -c 'cat; times >&2'`; // cat, and then what cat cost
      const gc = await transferCost(fromNode1, `${feed} ${remote} ${timed}`, [g1, g2], 3);
      const sc = await transferCost(['env'], `${feed} ${ssh} "${timed}"`, [sshd.pid], 3);
      const perMib = (ticks: number) => `${((ticks * 10) / mib).toFixed(2)}`;
      out(
        `CPU ms per MiB through cat, median of 3: gproc: CLI ${perMib(gc.client)}   agent ${perMib(gc.daemon[1])} (the caller's node's ${perMib(gc.daemon[0])})   shim ${perMib(gc.started)}   cat ${perMib(gc.cat)}   total ${perMib(gc.total)}`,
      );
      out(
        `                                         ssh: client ${perMib(sc.client)}   sshd ${perMib(sc.started)}   cat ${perMib(sc.cat)}   total ${perMib(sc.total)}   (gproc's CPU ${ratio(gc.total, sc.total)} of ssh's)`,
      );
    } finally {
      sshd?.stop();
      cluster.stop();
    }
  },

  /**
   * The 2 s rules of liveness, unloaded: node 2's agent frozen (SIGSTOP) and thawed five
   * times while nothing reads the view; how long until nodes/2/state says down, and up.
   */
  async liveness() {
    const cluster = await startNodes(2, 0, 7671);
    const mnt = mountPoint();
    const mount = await mountView(cluster, mnt);
    try {
      const agent = agentHostPid(cluster.nodes[1].initPid);
      const state = () => readFileSync(`${mnt}/nodes/2/state`, 'utf8').trim();
      await pollUntil('node 2 up', () => state() === 'up', 15000);
      const down: number[] = [];
      const up: number[] = [];
      for (let i = 0; i < 5; i++) {
        // Nothing reads the view for a second before each fault: the mount's own timer
        // must notice it, not a reader's refresh.
        await new Promise((r) => setTimeout(r, 1000));
        let t0 = performance.now();
        process.kill(agent, 'SIGSTOP');
        await pollUntil('node 2 down', () => state() === 'down', 15000, 10);
        down.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 1000));
        t0 = performance.now();
        process.kill(agent, 'SIGCONT');
        await pollUntil('node 2 up again', () => state() === 'up', 15000, 10);
        up.push(performance.now() - t0);
      }
      out("node 2's agent frozen (SIGSTOP) and thawed, 5 times; nodes/2/state read every 10 ms");
      out(
        `down after  median ${ms(median(down))}   max ${ms(Math.max(...down))}   (rule: <= 2000 ms)`,
      );
      out(`up after    median ${ms(median(up))}   max ${ms(Math.max(...up))}   (rule: <= 2000 ms)`);
    } finally {
      await mount.stop();
      rmdirSync(mnt);
      cluster.stop();
    }
  },

  /**
   * What a quiet node costs while a mount keeps its replica and someone reads the view
   * continuously: bytes the agent writes per second (its wchar: the stream, its heartbeat
   * answers and its log) against one full snapshot, and its CPU.
   */
  async watch() {
    const cluster = await startNodes(1, 1000, 7681);
    const mnt = mountPoint();
    const mount = await mountView(cluster, mnt);
    try {
      const agent = agentHostPid(cluster.nodes[0].initPid);
      const io = () => processCost(agent);
      const before = io();
      await cluster.clients[0].snapshot(10000);
      const snapshotBytes = io().bytes - before.bytes;
      const measure = async (what: string, seconds: number, read: boolean) => {
        const a = io();
        const t0 = performance.now();
        while (performance.now() - t0 < seconds * 1000) {
          if (read)
            readdirSync(mnt).forEach((n) => /^\d+$/.test(n) && existsSync(`${mnt}/${n}/stat`));
          await new Promise((r) => setTimeout(r, 100));
        }
        const b = io();
        const s = (performance.now() - t0) / 1000;
        const perS = (b.bytes - a.bytes) / s;
        out(
          `${what}: ${(perS / 1024).toFixed(1)} KiB/s written by the agent (${((perS / snapshotBytes) * 100).toFixed(2)}% of a full snapshot per second; target <= 5%),` +
            ` agent CPU ${(((b.ticks - a.ticks) / 100 / s) * 100).toFixed(1)}% of one (target <= 5%)`,
        );
      };
      out(
        `node with ${mount.processes()} processes; one full snapshot: ${(snapshotBytes / 1024).toFixed(0)} KiB`,
      );
      // A young agent costs more (its first full reading, code not yet optimized): the first
      // window shows it; the target is a quiet node's, measured once it has settled.
      await measure("the agent's first 10 s, view read every 100 ms", 10, true);
      await new Promise((r) => setTimeout(r, 20000));
      await measure('settled, view read every 100 ms, 20 s', 20, true);
      await measure('settled, nothing reads the view, 20 s', 20, false);
    } finally {
      await mount.stop();
      rmdirSync(mnt);
      cluster.stop();
    }
  },

  async snapshot() {
    const cluster = await startNodes(1, 1000, 7601);
    try {
      const client = cluster.clients[0];
      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < 15; i++) {
        const t0 = process.hrtime.bigint();
        const s = await client.snapshot(10000);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        count = s.processes.length;
      }
      const ps = await timeLoop(inNode(cluster.nodes[0]), '', 'ps -ef', 15);
      out(`node with ${count} processes`);
      out(
        `one snapshot (gRPC, decoded)  median ${ms(median(times))}   native ps -ef there  median ${ms(median(ps))}`,
      );
      out(`ratio ${ratio(median(times), median(ps))}   (target <= 2)`);
    } finally {
      cluster.stop();
    }
  },

  async ps() {
    const one = await startNodes(1, 1000, 7611);
    let nativeMedian = 0;
    let oneNode = { warm: 0, cold: 0 };
    try {
      const native = await timeLoop(inNode(one.nodes[0]), '', 'ps -ef', 9);
      nativeMedian = median(native);
      oneNode = await psOverView(one, nativeMedian, '1 node x 1,000 processes');
    } finally {
      one.stop();
    }
    const four = await startNodes(4, 1000, 7621);
    try {
      const fourNodes = await psOverView(
        four,
        nativeMedian,
        '4 nodes x 1,000 processes (vs the same single native ps -ef)',
      );
      out(
        `4 nodes / 1 node, cold: ${(fourNodes.cold / oneNode.cold).toFixed(2)}   warm: ${(fourNodes.warm / oneNode.warm).toFixed(2)}   (target <= 4)`,
      );
      out(
        '(a run over 4,000 processes outlasts the 1 s kernel caches, so it is never warm; here the four agents',
      );
      out(" and ps share this machine's CPUs, which a cluster of four machines would not)");
    } finally {
      four.stop();
    }
  },

  /**
   * The floor of the binding (issue 12): cold and warm `ps -ef` over 1 node x 1,000
   * processes, side by side, on the node's native /proc; on fuse-floor, a C libfuse 2 daemon
   * answering from memory a copy of that /proc, mounted with the view's options
   * (src/bench/fuse-floor.c); and on gproc's view of the node. The three run in turn, round
   * after round, so that the machine's load moves them alike; medians over all rounds.
   */
  async floor() {
    const cluster = await startNodes(1, 1000, 7691);
    const viewMnt = mountPoint();
    const floorMnt = mountPoint();
    const handoffMnt = mountPoint();
    const jsMnt = mountPoint();
    let view: BenchMount | undefined;
    let floor: FloorMount | undefined;
    let handoff: FloorMount | undefined;
    let jsFloor: FloorMount | undefined;
    try {
      view = await mountView(cluster, viewMnt);
      const procRoot = `/proc/${cluster.nodes[0].initPid}/root/proc`;
      floor = await startFloor(procRoot, floorMnt);
      handoff = await startFloor(procRoot, handoffMnt, { handoffHotMs: defaults.fuseHotMs });
      jsFloor = await startFloor(procRoot, jsMnt, 'fuse-native');
      const places: [string, [string[], string]][] = [
        ['native /proc', [inNode(cluster.nodes[0]), '']],
        ['C floor', overView(floorMnt)],
        ['C floor + hand-off', overView(handoffMnt)],
        ['fuse-native floor', overView(jsMnt)],
        ['gproc view', overView(viewMnt)],
      ];
      const warm = places.map(() => [] as number[]);
      const cold = places.map(() => [] as number[]);
      const coldCounts: Record<string, number> = {};
      const rounds = 7;
      for (let r = 0; r < rounds; r++) {
        for (const [i, [name, [prefix, setup]]] of places.entries()) {
          // Warm: back to back, after a first run that fills the caches (not counted).
          warm[i].push(...(await timeLoop(prefix, setup, 'ps -ef', 4)).slice(1));
          const before = name === 'gproc view' ? await view.counts() : undefined;
          cold[i].push(...(await timeLoop(prefix, setup, 'ps -ef', 2, 1.3)));
          if (before)
            for (const [op, k] of Object.entries(diff(await view.counts(), before)))
              coldCounts[op] = (coldCounts[op] ?? 0) + k;
        }
      }
      const processes = view.processes();
      out(
        `1 node: ${processes} processes in gproc's view, ${floor.processes} in the floors' copies; ${rounds} rounds, each: 3 warm runs, 2 cold`,
      );
      out(
        `C floor: libfuse 2 answering from memory on its own threads; + hand-off: each request handed to one main thread kept polling ${defaults.fuseHotMs} ms, as fuse-native hands it to JavaScript;`,
      );
      out(
        'fuse-native floor: the same copy served through fuse-native and fs/fuse.ts by a Map lookup per request',
      );
      const [n, f, h, j, g] = [0, 1, 2, 3, 4];
      const w = warm.map(median);
      const c = cold.map(median);
      for (const [i, [name]] of places.entries())
        out(
          `${name.padEnd(20)} warm median ${ms(w[i]).padStart(9)}   cold median ${ms(c[i]).padStart(9)}   (${((c[i] * 1000) / processes).toFixed(0)} us per process cold)`,
        );
      out(
        `cold: gproc/native ${ratio(c[g], c[n])} (target <= 3)   floor/native ${ratio(c[f], c[n])}   gproc/floor ${ratio(c[g], c[f])} (target <= 1.5)`,
      );
      out(
        `      floor+hand-off/native ${ratio(c[h], c[n])}   floor+hand-off/floor ${ratio(c[h], c[f])}   gproc/(floor+hand-off) ${ratio(c[g], c[h])}`,
      );
      out(
        `      fuse-native floor/native ${ratio(c[j], c[n])}   fuse-native floor/floor ${ratio(c[j], c[f])}   gproc/(fuse-native floor) ${ratio(c[g], c[j])}`,
      );
      out(
        `warm: gproc/native ${ratio(w[g], w[n])} (target <= 1.5)   floor/native ${ratio(w[f], w[n])}   gproc/floor ${ratio(w[g], w[f])}`,
      );
      const total = Object.values(coldCounts).reduce((a, b) => a + b, 0);
      const runs = rounds * 2;
      const perOp = Object.entries(coldCounts)
        .map(([op, k]) => `${op} ${(k / runs / processes).toFixed(2)}`)
        .join(', ');
      out(
        `gproc view, cold: ${(total / runs / processes).toFixed(2)} FUSE requests per process (${perOp}); ${((c[g] * 1000 * runs) / Math.max(1, total)).toFixed(0)} us of ps time per request`,
      );
      out('(cold: each run 1.3 s after the last, past the kernel caches of 1 s)');
    } finally {
      await floor?.stop();
      await handoff?.stop();
      await jsFloor?.stop();
      await view?.stop();
      for (const dir of [floorMnt, handoffMnt, jsMnt, viewMnt]) rmdirSync(dir);
      cluster.stop();
    }
  },
};

/** Times ps -ef over a view of `cluster`, warm and cold, with FUSE request counts. @returns the median times, ms. */
async function psOverView(
  cluster: Awaited<ReturnType<typeof startNodes>>,
  nativeMedian: number,
  what: string,
): Promise<{ warm: number; cold: number }> {
  const mnt = mountPoint();
  const view = await mountView(cluster, mnt);
  try {
    const [prefix, setup] = overView(mnt);
    await timeLoop(prefix, setup, 'ps -ef', 2); // first contact: lookups of every entry
    const processes = view.processes();
    const before = await view.counts();
    const warm = await timeLoop(prefix, setup, 'ps -ef', 9);
    const afterWarm = await view.counts();
    const warmCounts = diff(afterWarm, before);
    const cold = await timeLoop(prefix, setup, 'ps -ef', 5, 1.3);
    const coldCounts = diff(await view.counts(), afterWarm);
    out(`${what}: ${processes} processes in the view`);
    out(`native ps -ef            median ${ms(nativeMedian)}`);
    out(
      `ps -ef over the view     warm median ${ms(median(warm))} (${ratio(median(warm), nativeMedian)}),  cold median ${ms(median(cold))} (${ratio(median(cold), nativeMedian)})   (target <= 10x)`,
    );
    const per = (c: Record<string, number>, runs: number) =>
      Object.entries(c)
        .map(([op, n]) => `${op} ${(n / runs / processes).toFixed(2)}`)
        .join(', ');
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    out(
      `FUSE requests per process, warm: ${total(warmCounts) / 9 / processes < 0.005 ? '0' : per(warmCounts, 9)} (served by the kernel's caches)`,
    );
    out(
      `FUSE requests per process, cold: ${per(coldCounts, 5)}; ${(total(coldCounts) / 5 / processes).toFixed(2)} in all,` +
        ` ${((median(cold) * 1000 * 5) / Math.max(1, total(coldCounts))).toFixed(0)} us of ps time per request`,
    );
    out(
      '(warm: back-to-back runs within the 1 s lifetime of a refresh; cold: runs 1.3 s apart, after the kernel caches expired)',
    );
    return { warm: median(warm), cold: median(cold) };
  } finally {
    await view.stop();
    rmdirSync(mnt);
  }
}

function diff(now: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(now))
    if (v - (before[k] ?? 0) > 0) d[k] = v - (before[k] ?? 0);
  return d;
}
