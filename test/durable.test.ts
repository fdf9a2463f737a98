// Agent restarts lose nothing (native-notes/durable-processes.md): processes the cluster
// started keep running across an agent killed with SIGKILL, and their exit statuses are on
// disk until their owner (or root) reads them. Real agents, each node in namespaces of its own.
import t from 'tap';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { parsePidStat } from '../src/procfs/stat';
import { readInNode, startCluster, waitFor, type TestNode } from './helpers/cluster';

const NOBODY = { uid: 65534, gid: 65534 };
const PATH = ['PATH=/usr/bin:/bin'];

/** stat of a process inside the node, or undefined when it is gone. */
function statIn(node: TestNode, pid: number) {
  const text = readInNode(node, [`${pid}/stat`]).get(`${pid}/stat`);
  return text ? parsePidStat(text) : undefined;
}

t.test('an agent killed with SIGKILL while three started processes run', async (t) => {
  const cluster = await startCluster(t, { nodes: 2 });
  const node = cluster.node(2);
  const client = node.client;
  const go = join(cluster.dir, 'go');
  mkdirSync(go, { mode: 0o755 });
  chmodSync(go, 0o755);
  // Each runs until its file appears, then exits with its own status.
  const until = (name: string, code: number) =>
    `while [ ! -e ${go}/${name} ]; do sleep 0.05; done; exit ${code}`;
  const a = await client.spawn({ shellCommand: until('a', 3), env: PATH, cwd: '/' });
  const b = await client.spawn({ shellCommand: until('b', 4), env: PATH, cwd: '/' });
  const c = await client.spawn({ shellCommand: until('c', 5), env: PATH, cwd: '/tmp' }, NOBODY);
  const all = { a, b, c };
  for (const [name, p] of Object.entries(all))
    t.equal(statIn(node, p.pid)?.starttime, p.starttime, `${name} runs (pid ${p.pid})`);

  const agent = node.agentPid()!;
  process.kill(agent, 'SIGKILL');
  await waitFor('the agent gone', () => node.agentPid() === undefined);
  writeFileSync(join(go, 'a'), '');
  // a ends while no agent runs: its supervisor records it.
  const records = join(cluster.dir, 'state-2', 'processes');
  const recordOf = (p: { pid: number; starttime: number }) =>
    readdirSync(records).find((f) => f.endsWith(`.${p.pid}.${p.starttime}`));
  await waitFor('a recorded as ended', () =>
    /\nstate exited 3\n/.test(readFileSync(join(records, recordOf(a)!), 'utf8')),
  );
  t.equal(statIn(node, a.pid), undefined, 'a is gone (reaped by its supervisor)');

  node.startAgent();
  await waitFor('the agent back', () =>
    client.nodeInfo().then(
      () => true,
      () => false,
    ),
  );
  t.not(node.agentPid(), agent, 'a new agent');
  for (const p of [b, c])
    t.equal(
      statIn(node, p.pid)?.starttime,
      p.starttime,
      `pid ${p.pid} still runs: not killed by the restart`,
    );

  const snap = await client.snapshot();
  t.same(
    snap.started.map((s) => s.pid).sort(),
    [b.pid, c.pid].sort(),
    'the restarted agent knows the processes it started that still run',
  );
  t.same(snap.ended.find((e) => e.pid === a.pid)?.status?.code, 3, "and a's status");

  const wait = (p: { pid: number; starttime: number }, as?: typeof NOBODY) =>
    client.wait({ pid: p.pid, starttime: p.starttime }, as).result;
  await t.rejects(
    wait(a, NOBODY),
    {
      code: 7,
      details: `the exit status of ${encodeGpid(2, a.pid)} (2:${a.pid}) belongs to uid 0`,
    },
    "nobody may not consume root's status (the refusal names the gpid)",
  );
  t.equal((await wait(a)).code, 3, 'wait a: exited 3 (it ended while the agent was down)');
  const waits = [wait(b), wait(c, NOBODY)];
  writeFileSync(join(go, 'b'), '');
  writeFileSync(join(go, 'c'), '');
  const [sb, sc] = await Promise.all(waits);
  t.equal(sb.code, 4, 'wait b: exited 4');
  t.equal(sc.code, 5, 'wait c as its owner: exited 5');
  t.equal((await wait(c)).code, 5, 'root may read it too, and re-reads agree');
  t.equal((await wait(c, NOBODY)).code, 5);

  // Their records stay on disk until retention ends, marked read.
  for (const p of [a, b, c])
    t.match(
      readFileSync(join(records, recordOf(p)!), 'utf8'),
      /\nread \d+\n$/,
      `${p.pid}'s record says it was read`,
    );
});

t.test('a started process is the command itself; its supervisor is small', async (t) => {
  const cluster = await startCluster(t, { nodes: 1 });
  const node = cluster.node(1);
  const p = await node.client.spawn({ argv: ['sleep', '1000'], env: PATH, cwd: '/' }, NOBODY);
  const files = readInNode(node, [
    `${p.pid}/comm`,
    `${p.pid}/cmdline`,
    `${p.pid}/stat`,
    `${p.pid}/status`,
  ]);
  t.equal(files.get(`${p.pid}/comm`)?.toString(), 'sleep\n', "its comm is the command's");
  t.equal(
    files.get(`${p.pid}/cmdline`)?.toString(),
    'sleep\u00001000\u0000',
    "its cmdline is the command's",
  );
  t.match(
    files.get(`${p.pid}/status`)?.toString() ?? '',
    /\nUid:\t65534\t65534\t65534\t65534\n/,
    'it runs as its user',
  );
  const stat = parsePidStat(files.get(`${p.pid}/stat`)!);
  t.equal(stat.starttime, p.starttime);
  t.equal(stat.pgrp, p.pid, 'a process group of its own');
  t.equal(stat.session, p.pid, 'a session of its own');
  const shim = stat.ppid;
  const shimFiles = readInNode(node, [`${shim}/comm`, `${shim}/stat`, `${shim}/status`]);
  t.equal(
    shimFiles.get(`${shim}/comm`)?.toString(),
    'gproc-shim\n',
    'its parent is its supervisor',
  );
  const shimStat = parsePidStat(shimFiles.get(`${shim}/stat`)!);
  t.not(shimStat.pgrp, p.pid, "the supervisor is not in the process's group");
  t.not(shimStat.session, p.pid, 'nor in its session');
  const status = shimFiles.get(`${shim}/status`)!.toString();
  const kb = (key: string) => Number(new RegExp(`\\n${key}:\\s+(\\d+) kB`).exec(status)![1]);
  t.ok(
    kb('VmRSS') < 1024,
    `the supervisor's RSS: ${kb('VmRSS')} kB (of which private ${kb('RssAnon')} kB)`,
  );
  const snap = await node.client.snapshot();
  const seen = snap.processes.find((q) => q.pid === p.pid);
  t.equal(seen && parsePidStat(seen.stat).comm, 'sleep', 'and so the agent serves it');
  t.equal(seen?.cmdline.toString(), 'sleep\u00001000\u0000');
  t.ok(
    snap.started.some((s) => s.pid === p.pid),
    'listed as started',
  );
  const results = await node.client.signal({
    targets: [{ pid: p.pid, starttime: p.starttime }],
    signal: 9,
  });
  t.equal(results[0].outcome, 'DELIVERED');
  t.equal(
    (await node.client.wait({ pid: p.pid, starttime: p.starttime }).result).signal,
    'SIGKILL',
    'wait: killed SIGKILL',
  );
});
