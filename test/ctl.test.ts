// Control files. Signals forwarded to any node through <gpid>/ctl, stop/cont,
// process groups across three nodes, EINVAL for garbage (and daemons that live on), a PID
// reused on purpose is never signalled, the kernel enforces ctl's owner, gproc kill, and
// every forwarded signal leaves an audit line on the agent that delivered it. Open ctl and
// wait handles name the process they were opened on, through a PID reuse; wait is its owner's.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { defaults } from '../src/defaults';
import { encodeGpid } from '../src/gpid';
import { GPROC, GPROC_SH, startCluster, waitFor, type TestNode, NOBODY } from './helpers/cluster';
import { hex, inNode, inView, startMount, writeCases } from './helpers/mount';

/** Starts `sh -c CMD` in a node, detached from the test's pipes; its pid in the node. */
function startIn(node: TestNode, cmd: string, asUid?: number): number {
  const pre =
    asUid === undefined ? '' : `setpriv --reuid=${asUid} --regid=${asUid} --clear-groups `;
  const r = inNode(node, ['sh', '-c', `${pre}sh -c '${cmd}' </dev/null >/dev/null 2>&1 & echo $!`]);
  return Number(r.stdout.trim());
}

/**
 * Waits until the view lists `gpid` as `sleep` owned by `uid`: a process started through
 * setpriv is root's until setpriv changes its ids and execs, and a listing taken before
 * that shows it so for the lifetime of the kernel's caches.
 */
function sleepingAs(mount: { mountPoint: string }, gpid: number, uid: number): Promise<true> {
  return waitFor(`${gpid} listed as sleep of uid ${uid}`, () => {
    try {
      const comm = readFileSync(`${mount.mountPoint}/${gpid}/comm`, 'latin1');
      return (
        (comm === 'sleep\n' && statSync(`${mount.mountPoint}/${gpid}`).uid === uid) || undefined
      );
    } catch {
      return undefined;
    }
  });
}

/** The state letter ps shows for a process of the view. */
function stateOf(mount: { mountPoint: string }, gpid: number): string {
  return readFileSync(`${mount.mountPoint}/${gpid}/stat`, 'latin1').split(') ')[1][0];
}

t.test('control files', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  const mount = await startMount(t, cluster, { node: 1 });
  const ctl = (gpid: number) => `${mount.mountPoint}/${gpid}/ctl`;
  const gone = (gpid: number) =>
    waitFor(
      `${gpid} to end`,
      () => !existsSync(`${mount.mountPoint}/${gpid}/stat`) || undefined,
      5000,
    );

  t.test('echo TERM > ctl ends a sleep on another node', async (t) => {
    const gpid = encodeGpid(3, startIn(cluster.node(3), 'exec sleep 1000'));
    await waitFor('listed', () => existsSync(ctl(gpid)) || undefined);
    const r = spawnSync('sh', ['-c', `echo TERM > ${ctl(gpid)}`], { encoding: 'utf8' });
    t.equal(r.status, 0, 'the write succeeds once the agent delivered it');
    t.equal(r.stderr, '');
    await gone(gpid);
    t.pass('the sleep on node 3 ended');
  });

  t.test('stop and cont show T, then S', async (t) => {
    const gpid = encodeGpid(2, startIn(cluster.node(2), 'exec sleep 1000'));
    await waitFor('listed', () => existsSync(ctl(gpid)) || undefined);
    writeFileSync(ctl(gpid), 'stop\n');
    // ps takes the state from stat and from status; each file of the view may be up to a
    // refresh old (native-notes/caching.md), so ps shows the new state within about 1 s.
    const psStateBecomes = async (want: string) => {
      const end = Date.now() + 4000;
      let seen = inView(mount, ['ps', '-o', 'stat=', '-p', String(gpid)]).stdout.trim()[0];
      while (seen !== want && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        seen = inView(mount, ['ps', '-o', 'stat=', '-p', String(gpid)]).stdout.trim()[0];
      }
      return seen;
    };
    await waitFor('state T', () => stateOf(mount, gpid) === 'T' || undefined, 4000);
    t.equal(await psStateBecomes('T'), 'T', 'ps shows T');
    writeFileSync(ctl(gpid), 'cont');
    await waitFor('state S', () => stateOf(mount, gpid) === 'S' || undefined, 4000);
    t.equal(await psStateBecomes('S'), 'S', 'then S');
    writeFileSync(ctl(gpid), 'signal SIGKILL');
    await gone(gpid);
  });

  t.test('signal-group INT ends a process group spread over three nodes', async (t) => {
    const env = `GPROC_NODE=1 GPROC_CONFIG=${cluster.configPath}`;
    // Background jobs of a shell ignore SIGINT; env --default-signal gives it back to them.
    const dflt = 'env --default-signal=INT';
    const run = (n: number) => `env ${env} ${GPROC_SH} run --node ${n} -- sleep 1000`;
    const leader = startIn(
      cluster.node(1),
      `exec ${dflt} setsid sh -c "${dflt} sleep 1000 & ${run(2)} & ${run(3)} & wait"`,
    );
    const leaderGpid = encodeGpid(1, leader);
    const members = await waitFor('the group on three nodes', () => {
      const ps = inView(mount, ['ps', '-eo', 'pid=,pgid=,comm='])
        .stdout.trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/));
      const group = ps.filter((r) => r[1] === String(leaderGpid));
      const nodes = new Set(group.map((r) => Math.floor(Number(r[0]) / 2 ** 22)));
      return nodes.size === 3 && group.filter((r) => r[2] === 'sleep').length === 3
        ? group
        : undefined;
    });
    t.ok(
      members.length >= 6,
      `${members.length} members: sh, sleep and two gproc run on node 1, a sleep on nodes 2 and 3`,
    );
    const remote = members
      .filter((r) => r[2] === 'sleep' && !r[0].startsWith('4'))
      .map((r) => Number(r[0]));
    t.equal(remote.length, 2, "remote members keep the requester's process group");
    const localSleep = Number(
      members.find((r) => r[2] === 'sleep' && Math.floor(Number(r[0]) / 2 ** 22) === 1)![0],
    );
    writeFileSync(ctl(localSleep), 'signal-group INT\n');
    for (const gpid of members.map((r) => Number(r[0]))) await gone(gpid);
    t.pass('every member on every node ended');
  });

  t.test('garbage writes are EINVAL and every daemon keeps running', async (t) => {
    const gpid = encodeGpid(2, startIn(cluster.node(2), 'exec sleep 1000'));
    await waitFor('listed', () => existsSync(ctl(gpid)) || undefined);
    const result = writeCases(ctl(gpid), {
      empty: { hex: hex('\n') },
      spaces: { hex: hex('   ') },
      junk64k: { hex: Buffer.alloc(64 * 1024, 'z').toString('hex') },
      random: {
        hex: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)).toString('hex'),
      },
      verb: { hex: hex('explode\n') },
      signal999: { hex: hex('signal 999\n') },
      signalName: { hex: hex('signal SIGFOO\n') },
      noSignal: { hex: hex('signal\n') },
      extraArg: { hex: hex('kill now\n') },
      twoLines: { hex: hex('stop\ncont\n') },
      nul: { hex: hex('kill\0') },
      offset100: { hex: hex('kill'), offset: 100 },
    });
    for (const [name, got] of Object.entries(result)) t.equal(got, 'EINVAL', `${name}: EINVAL`);
    t.equal(mount.process.exitCode, null, 'the mount daemon is running');
    for (const n of cluster.nodes) t.ok(await n.client.nodeInfo(), `agent ${n.id} answers`);
    t.equal(
      await waitFor('asleep', () => stateOf(mount, gpid) === 'S' && 'S', 3000).catch(() =>
        stateOf(mount, gpid),
      ),
      'S',
      'the target was not touched',
    );
    t.same(
      writeCases(ctl(gpid), { ok: { hex: hex('signal 9') } }),
      { ok: 'ok' },
      'and a good command still works',
    );
    await gone(gpid);
    const gpidGone = gpid;
    t.same(
      writeCases(`${mount.mountPoint}/${encodeGpid(2, 1)}/ctl`, {
        zero: { hex: hex('signal 0\n') },
      }),
      { zero: 'ok' },
      'signal 0 checks a live process',
    );
    t.throws(
      () => writeFileSync(ctl(gpidGone), 'kill'),
      /ENOENT|ESRCH/,
      'a gone process: ESRCH (or ENOENT once the entry is gone)',
    );
  });

  t.test('a reused PID is not signalled (ns_last_pid)', async (t) => {
    const node = cluster.node(2);
    const old = startIn(node, 'exec sleep 1001');
    const gpid = encodeGpid(2, old);
    await waitFor('listed', () => existsSync(ctl(gpid)) || undefined);
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = readFileSync(`${mount.mountPoint}/${gpid}/stat`, 'latin1'); // the view lists the old one now
      const t0 = Date.now();
      // Kill the old process and start a new one with the same PID, in one go inside the node.
      const r = inNode(node, [
        'sh',
        '-c',
        `kill -9 ${old}; while [ -e /proc/${old} ]; do :; done; echo ${old - 1} > /proc/sys/kernel/ns_last_pid; sleep 1002 </dev/null >/dev/null 2>&1 & echo $!`,
      ]);
      const reused = Number(r.stdout.trim());
      t.equal(reused, old, 'the new process got the same PID');
      const got = writeCases(ctl(gpid), { kill: { hex: hex('kill\n') } }).kill;
      const elapsed = Date.now() - t0;
      if (elapsed > 800) continue; // the view may have refreshed meanwhile: try again
      t.equal(
        got,
        'ESRCH',
        `the write fails with ESRCH (${elapsed} ms after the view listed ${before.split(' ')[0]})`,
      );
      const cmd = readFileSync(`${node.procRoot}/${old}/cmdline`, 'latin1');
      t.equal(cmd, 'sleep\u00001002\u0000', 'the new process is untouched');
      inNode(node, ['kill', '-9', String(old)]);
      return;
    }
    t.fail('could not reuse the PID within one refresh of the view');
  });

  /** Kills `pid` in `node` (if given), waits until it is reaped, and starts `sleep ARG` with that same pid. */
  const reusePid = (node: TestNode, pid: number, arg: string, kill = true) =>
    Number(
      inNode(node, [
        'sh',
        '-c',
        `${kill ? `kill -9 ${pid}; ` : ''}while [ -e /proc/${pid} ]; do :; done; echo ${pid - 1} > /proc/sys/kernel/ns_last_pid; sleep ${arg} </dev/null >/dev/null 2>&1 & echo $!`,
      ]).stdout.trim(),
    );

  t.test(
    'a held ctl handle names its process: after a PID reuse, the write fails with ESRCH',
    async (t) => {
      const node = cluster.node(2);
      const old = startIn(node, 'exec sleep 1003');
      const gpid = encodeGpid(2, old);
      await waitFor('listed', () => existsSync(ctl(gpid)) || undefined);
      t.ok(lstatSync(ctl(gpid)).isSymbolicLink(), 'ctl links into the control view');
      const fd = openSync(ctl(gpid), 'w'); // as `exec 5>ctl` does
      try {
        t.equal(reusePid(node, old, '1004'), old, 'a new process got the same PID');
        // However long it takes: even once the view lists the new process under this gpid.
        await waitFor(
          'the view lists the new process',
          () =>
            readFileSync(`${mount.mountPoint}/${gpid}/cmdline`, 'latin1') ===
              'sleep\u00001004\u0000' || undefined,
          5000,
        );
        t.throws(
          () => writeSync(fd, 'kill\n'),
          { code: 'ESRCH' },
          'the write through the old handle: ESRCH',
        );
        t.throws(
          () => writeSync(fd, 'signal-group KILL\n'),
          { code: 'ESRCH' },
          'and signal-group too',
        );
      } finally {
        closeSync(fd);
      }
      t.equal(
        readFileSync(`${node.procRoot}/${old}/cmdline`, 'latin1'),
        'sleep\u00001004\u0000',
        'the new process is untouched',
      );
      t.equal(
        readFileSync(`${node.procRoot}/${old}/stat`, 'latin1').split(') ')[1][0],
        'S',
        'and still asleep',
      );
      writeFileSync(ctl(gpid), 'kill'); // a new open names the new process
      await gone(gpid);
    },
  );

  t.test('a wait handle answers for its process after the PID is reused', async (t) => {
    const node = cluster.node(2);
    const r = spawnSync(
      'bash',
      [
        '-c',
        `exec 3<>${mount.mountPoint}/nodes/2/spawn; echo 'sleep 2; exit 6' >&3; read g <&3; echo $g`,
      ],
      { encoding: 'utf8' },
    );
    const gpid = Number(r.stdout.trim());
    const pid = gpid % 2 ** 22;
    const wait = `${mount.mountPoint}/${gpid}/wait`;
    await waitFor('listed', () => existsSync(wait) || undefined);
    const fd = openSync(wait, 'r');
    try {
      t.equal(reusePid(node, pid, '1005', false), pid, 'it ended, and a new process got its PID');
      await waitFor(
        'the view lists the new process',
        () =>
          readFileSync(`${mount.mountPoint}/${gpid}/cmdline`, 'latin1') ===
            'sleep\u00001005\u0000' || undefined,
        5000,
      );
      const buf = Buffer.alloc(64);
      t.equal(
        buf.subarray(0, readSync(fd, buf, 0, 64, 0)).toString(),
        'exited 6\n',
        'the handle answers for the process it was opened on',
      );
      t.equal(readSync(fd, buf, 0, 64, 9), 0, 'then end-of-file');
    } finally {
      closeSync(fd);
    }
    t.equal(
      readFileSync(`${node.procRoot}/${pid}/cmdline`, 'latin1'),
      'sleep\u00001005\u0000',
      'the new process runs on',
    );
    writeFileSync(ctl(gpid), 'kill');
    await gone(gpid);
  });

  t.test(
    "a held environ never reads the next process's: ESRCH after its PID went to another user",
    async (t) => {
      const node = cluster.node(2);
      const old = startIn(node, 'exec env SECRET=mine sleep 1006', NOBODY);
      const gpid = encodeGpid(2, old);
      await sleepingAs(mount, gpid, NOBODY);
      const environ = `${mount.mountPoint}/${gpid}/environ`;
      t.ok(lstatSync(environ).isSymbolicLink(), 'environ links to its process by start time');
      // nobody opens its own process's environ, reads it, keeps the descriptor, and reads it
      // again when told (more than the file holds, so the kernel asks the view again).
      const py = [
        'import os, sys',
        'fd = os.open(sys.argv[1], os.O_RDONLY)',
        "print(b'SECRET=mine' in os.pread(fd, 65536, 0), flush=True)",
        'sys.stdin.readline()',
        'try:',
        "    print('read', os.pread(fd, 65536, 0), flush=True)",
        'except OSError as e:',
        "    print('errno', e.errno, flush=True)",
      ].join('\n');
      const holder = spawn(
        'setpriv',
        [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          '--clear-groups',
          '/usr/bin/python3',
          '-c',
          py,
          environ,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      // Its output, split into lines only once whole: a line may come in two pieces.
      let out = '';
      holder.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const lines = () => out.split('\n').slice(0, -1);
      await waitFor('the holder read its environ', () => lines()[0]);
      t.equal(lines()[0], 'True', 'the owner reads its environ');
      const victim = NOBODY - 1;
      const r = inNode(node, [
        'sh',
        '-c',
        `kill -9 ${old}; while [ -e /proc/${old} ]; do :; done; echo ${old - 1} > /proc/sys/kernel/ns_last_pid; setpriv --reuid=${victim} --regid=${victim} --clear-groups env SECRET=victim sleep 1007 </dev/null >/dev/null 2>&1 & echo $!`,
      ]);
      t.equal(Number(r.stdout.trim()), old, "another user's process got the same PID");
      await sleepingAs(mount, gpid, victim);
      // Past the kernel's attribute cache of the held file too.
      await new Promise((r) => setTimeout(r, defaults.kernelCacheSeconds * 1000 + 200));
      holder.stdin.end('read\n');
      await new Promise((r) => holder.once('exit', r));
      const answer = lines().slice(1).join('\n');
      t.notMatch(
        answer,
        /SECRET=victim/,
        "the held descriptor does not read the new owner's environ",
      );
      t.equal(answer.trim(), 'errno 3', 'it reads ESRCH, its process being gone');
      writeFileSync(ctl(gpid), 'kill');
      await gone(gpid);
    },
  );

  t.test(
    "wait is 0400, owned by the process uid: another user's read is EACCES, the owner's works",
    async (t) => {
      const gpid = encodeGpid(3, startIn(cluster.node(3), 'exec sleep 1000', NOBODY));
      const wait = `${mount.mountPoint}/${gpid}/wait`;
      await sleepingAs(mount, gpid, NOBODY);
      const st = statSync(wait);
      t.equal(st.mode & 0o777, 0o400, 'mode 0400');
      t.equal(st.uid, NOBODY, 'owned by the uid');
      const asUser = (uid: number) => [
        'setpriv',
        `--reuid=${uid}`,
        `--regid=${uid}`,
        '--clear-groups',
        'cat',
        wait,
      ];
      const other = spawnSync(asUser(NOBODY - 1)[0], asUser(NOBODY - 1).slice(1), {
        encoding: 'utf8',
      });
      t.not(other.status, 0);
      t.match(other.stderr, /Permission denied/, 'another user: EACCES');
      const owner = spawn(asUser(NOBODY)[0], asUser(NOBODY).slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise((r) => owner.once('exit', r));
      let out = '';
      owner.stdout.on('data', (d) => (out += d));
      await new Promise((r) => setTimeout(r, 500));
      t.equal(owner.exitCode, null, "the owner's read blocks while the process runs");
      writeFileSync(ctl(gpid), 'kill');
      t.equal(await exited, 0, "the owner's cat ends");
      t.equal(
        out,
        'gone\n',
        'with the answer (nobody held this status: it was not started by an agent)',
      );
      await gone(gpid);
    },
  );

  t.test('the kernel enforces ctl: 0200, owned by the process uid', async (t) => {
    const mine = encodeGpid(3, startIn(cluster.node(3), 'exec sleep 1000', NOBODY));
    const roots = encodeGpid(3, startIn(cluster.node(3), 'exec sleep 1000'));
    await sleepingAs(mount, mine, NOBODY);
    await sleepingAs(mount, roots, 0);
    t.same(
      writeCases(ctl(roots), { kill: { hex: hex('kill') } }, NOBODY),
      { kill: 'EACCES' },
      "nobody may not signal root's process",
    );
    t.equal(
      await waitFor('asleep', () => stateOf(mount, roots) === 'S' && 'S', 3000).catch(() =>
        stateOf(mount, roots),
      ),
      'S',
      'it is untouched',
    );
    t.same(
      writeCases(ctl(mine), { term: { hex: hex('signal TERM') } }, NOBODY),
      { term: 'ok' },
      'nobody signals its own process',
    );
    await gone(mine);
    writeFileSync(ctl(roots), 'kill');
    await gone(roots);
  });

  t.test('gproc kill', async (t) => {
    const a = encodeGpid(2, startIn(cluster.node(2), 'exec sleep 1000'));
    const b = startIn(cluster.node(3), 'exec sleep 1000');
    await waitFor('listed', () => existsSync(ctl(a)) || undefined);
    const kill = (...args: string[]) =>
      spawnSync(GPROC[0], [...GPROC.slice(1), 'kill', '--config', cluster.configPath, ...args], {
        encoding: 'utf8',
      });
    let r = kill('-STOP', String(a), `3:${b}`);
    t.equal(r.status, 0, 'all delivered: exit 0');
    await waitFor('stopped', () => stateOf(mount, a) === 'T' || undefined);
    r = kill('-s', 'KILL', String(a), '3:4000000', 'nonsense');
    t.equal(r.status, 1);
    t.match(r.stderr, /"nonsense" is not a global pid/);
    r = kill('-KILL', String(a), '3:4000000');
    t.equal(r.status, 1, 'exit 1 when one failed');
    t.match(
      r.stderr,
      new RegExp(`^gproc: kill ${encodeGpid(3, 4000000)} \\(3:4000000\\): no such process$`, 'm'),
    );
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line per failure');
    r = kill('-9', `3:${b}`);
    t.equal(r.status, 0);
    r = kill('-BOGUS', `3:${b}`);
    t.match(r.stderr, /unknown signal "BOGUS"/);
    t.equal(r.status, 1);
    await gone(a);
  });

  t.test('every forwarded signal is in the audit log of the agent that delivered it', async (t) => {
    const log = readFileSync(`${cluster.dir}/audit-2.log`, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"action":"signal"'))
      .map((l) => JSON.parse(l));
    t.ok(log.length >= 3, `${log.length} audit lines on node 2`);
    const stop = log.find((e) => e.signal === 'SIGSTOP')!;
    t.ok(stop, 'the stop is there');
    t.match(stop, { action: 'signal', result: 'DELIVERED', node: 1, uid: 0, via: 'node 1' });
    t.ok(
      stop.target > 0 && stop.starttime > 0 && stop.time,
      'with target pid, start time and time',
    );
    t.ok(
      log.some((e) => e.result === 'NO_SUCH_PROCESS'),
      'refusals too',
    );
  });
});
