// The file system semantics of the cluster view: reads at any offset and chunk
// size, owners and modes enforced by the kernel, processes that appear and disappear,
// nodes that stop answering, stale mounts of a killed daemon, Ctrl-C.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { encodeGpid, PID_LIMIT } from '../src/gpid';
import { hostPidOf } from '../src/up/nodes';
import { startCluster, waitFor, NOBODY } from './helpers/cluster';
import { inNode, startMount } from './helpers/mount';

/** Reads a file with dd at the given block size (bytes, exactly as a reader gets them). */
function dd(path: string, bs: number, skip = 0): Buffer {
  const r = spawnSync('dd', [`if=${path}`, `bs=${bs}`, `skip=${skip}`, 'status=none'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`dd ${path}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Runs a command as another user (uid and gid), without supplementary groups. */
function asUser(uid: number, argv: string[]) {
  return spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv], {
    encoding: 'utf8',
  });
}

t.test('the cluster view as a file system', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, fixtures: true });
  const m1 = await startMount(t, cluster, { node: 1 });
  const m2 = await startMount(t, cluster, { node: 2 });
  const n2 = cluster.node(2);
  const big = encodeGpid(2, n2.fixtures!.bigcmd);

  t.test('mount options: allow_other and default_permissions', async (t) => {
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === m1.mountPoint)!;
    t.match(line, /fuse\.gproc/);
    t.match(line, /allow_other/);
    t.match(line, /default_permissions/);
  });

  t.test('any chunk size reads the same bytes; EOF returns nothing', async (t) => {
    const files = [
      `${big}/cmdline`,
      `${big}/stat`,
      `${big}/status`,
      `${big}/environ`,
      `${big}/statm`,
      'stat',
      'meminfo',
      'cpuinfo',
      'uptime',
    ];
    for (const f of files) {
      const path = `${m1.mountPoint}/${f}`;
      const whole = readFileSync(path);
      t.ok(whole.length > 0, `${f} is not empty`);
      for (const bs of [1, 7, 4096]) {
        if (bs === 1 && whole.length > 20000) continue; // 200 KiB one byte at a time is slow, not different
        // stat, uptime and the rest change at every refresh: the chunked read must equal the
        // file as read whole just before and just after it, when those two agree.
        let same: boolean | undefined;
        let size = whole.length;
        for (let attempt = 0; attempt < 5 && same === undefined; attempt++) {
          const before = readFileSync(path);
          const got = dd(path, bs);
          if (before.equals(readFileSync(path))) {
            same = got.equals(before);
            size = before.length;
          }
        }
        t.equal(same, true, `${f}: bs=${bs} gives the same ${size} bytes as a whole read`);
      }
      t.equal(
        dd(path, 4096, Math.ceil((whole.length + 1) / 4096) + 1).length,
        0,
        `${f}: a read past the end returns 0 bytes`,
      );
    }
    const cmd = readFileSync(`${m1.mountPoint}/${big}/cmdline`);
    t.ok(cmd.length > 200 * 1024, `200 KiB cmdline read whole (${cmd.length} bytes)`);
    t.ok(
      cmd.equals(readFileSync(`${n2.procRoot}/${n2.fixtures!.bigcmd}/cmdline`)),
      'byte for byte as on its node',
    );
    t.ok(
      dd(`${m1.mountPoint}/${big}/cmdline`, 7, 20000).equals(cmd.subarray(140000)),
      'from an offset in the middle',
    );
  });

  t.test('owners and modes as /proc gives them, enforced by the kernel', async (t) => {
    const started = inNode(n2, [
      'sh',
      '-c',
      `setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups env SECRET=x sleep 1000 >/dev/null 2>&1 & p=$!; until grep -qx sleep /proc/$p/comm; do sleep 0.05; done; echo $p`,
    ]);
    const pid = Number(started.stdout.trim());
    const gpid = encodeGpid(2, pid);
    const dir = `${m1.mountPoint}/${gpid}`;
    // Until the view lists it as sleep: a reading taken while it was still setpriv or env
    // (a second or less before) shows it without SECRET.
    await waitFor('the nobody process in the view, as sleep', () => {
      try {
        return readFileSync(`${dir}/comm`, 'latin1') === 'sleep\n' || undefined;
      } catch {
        return undefined;
      }
    });
    t.equal(statSync(dir).uid, NOBODY, 'process dir owned by its uid');
    t.equal(statSync(dir).mode & 0o7777, 0o555);
    const environ = statSync(`${dir}/environ`);
    t.equal(environ.uid, NOBODY);
    t.equal(environ.mode & 0o777, 0o400, 'environ is 0400');
    t.equal(statSync(`${dir}/ctl`).mode & 0o777, 0o200, 'ctl is 0200');
    t.equal(statSync(`${dir}/stat`).mode & 0o777, 0o444);
    t.match(
      asUser(NOBODY, ['cat', `${dir}/environ`]).stdout,
      /SECRET=x/,
      'its owner reads environ',
    );
    const other = asUser(NOBODY - 1, ['cat', `${dir}/environ`]);
    t.not(other.status, 0);
    t.match(other.stderr, /Permission denied/, 'another user gets EACCES');
    const rootEnv = `${m1.mountPoint}/${encodeGpid(2, n2.fixtures!.hostile)}/environ`;
    t.match(
      asUser(NOBODY, ['cat', rootEnv]).stderr,
      /Permission denied/,
      "nobody cannot read root's environ",
    );
    t.match(
      asUser(NOBODY, ['cat', `${dir}/stat`]).stdout,
      // R or S: the view's reading may catch the sleep between its exec and its first sleep.
      new RegExp(`^${gpid} \\(sleep\\) [RS] `),
      'stat is world-readable',
    );
    process.kill(hostPidOf(n2.initPid, pid)!, 'SIGKILL');
  });

  t.test("limits: the owning node's file as it is, mode 0444", async (t) => {
    // A limit of its own for one process on each of two nodes: a view that served another
    // process's or another node's file would differ.
    const start = (node: number, nofile: string) => {
      const n = cluster.node(node);
      const r = inNode(n, [
        'sh',
        '-c',
        `prlimit --nofile=${nofile} sleep 1000 >/dev/null 2>&1 & echo $!`,
      ]);
      const pid = Number(r.stdout.trim());
      t.teardown(() => process.kill(hostPidOf(n.initPid, pid)!, 'SIGKILL'));
      return { n, pid, path: `${m1.mountPoint}/${encodeGpid(node, pid)}/limits` };
    };
    const procs = [start(2, '1234:2345'), start(3, '4321:5432')];
    for (const [i, { n, pid, path }] of procs.entries()) {
      // Before prlimit execs sleep the process has the usual limits: wait for its own.
      const line =
        i === 0 ? /^Max open files +1234 +2345 +files/m : /^Max open files +4321 +5432 +files/m;
      const own = (b: Buffer | undefined) => (b && line.test(b.toString()) ? b : undefined);
      const want = await waitFor(`its limit in node ${n.id}'s file`, () =>
        own(readFileSync(`${n.procRoot}/${pid}/limits`)),
      );
      const got = await waitFor(`its limit in ${path}`, () => {
        try {
          return own(readFileSync(path));
        } catch {
          return undefined;
        }
      });
      t.ok(got.equals(want), `node ${n.id} pid ${pid}: the node's ${want.length} bytes`);
      t.equal(statSync(path).mode & 0o7777, 0o444);
      t.match(asUser(NOBODY, ['cat', path]).stdout, /^Limit +Soft Limit/, 'world-readable');
    }
  });

  t.test(
    'a new process appears on every mount within one refresh; an ended one disappears',
    async (t) => {
      const started = inNode(cluster.node(3), ['sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo $!']);
      const gpid = encodeGpid(3, Number(started.stdout.trim()));
      const t0 = Date.now();
      for (const m of [m1, m2]) {
        await waitFor(
          `gpid ${gpid} on ${m.mountPoint}`,
          () => readdirSync(m.mountPoint).includes(String(gpid)) || undefined,
          5000,
        );
      }
      t.ok(Date.now() - t0 < 2500, `listed on both mounts after ${Date.now() - t0} ms`);
      t.match(
        readFileSync(`${m2.mountPoint}/${gpid}/status`, 'utf8'),
        new RegExp(`^Pid:\\t${gpid}$`, 'm'),
      );
      t.equal(readFileSync(`${m1.mountPoint}/${gpid}/node`, 'utf8'), '3 n3\n');
      process.kill(hostPidOf(cluster.node(3).initPid, gpid % PID_LIMIT)!, 'SIGKILL');
      const t1 = Date.now();
      for (const m of [m1, m2]) {
        await waitFor(
          `${gpid} gone from ${m.mountPoint}`,
          () =>
            (!readdirSync(m.mountPoint).includes(String(gpid)) &&
              !existsSync(`${m.mountPoint}/${gpid}`)) ||
            undefined,
          5000,
        );
      }
      t.ok(Date.now() - t1 < 2500, `gone after ${Date.now() - t1} ms`);
      t.throws(
        () => statSync(`${m1.mountPoint}/${gpid}`),
        { code: 'ENOENT' },
        'a lookup of a gone gpid is ENOENT',
      );
      t.throws(() => statSync(`${m1.mountPoint}/${encodeGpid(3, 4000000)}`), { code: 'ENOENT' });
    },
  );

  t.test('self, local PIDs and the rest of the real /proc', async (t) => {
    t.equal(readlinkSync(`${m1.mountPoint}/self`).endsWith('/proc/self'), true);
    t.match(
      readFileSync(`${m1.mountPoint}/self/stat`, 'utf8'),
      new RegExp(`^${process.pid} `),
      'self is the reader',
    );
    t.match(
      readFileSync(`${m1.mountPoint}/${process.pid}/stat`, 'utf8'),
      new RegExp(`^${process.pid} `),
      'a local pid resolves',
    );
    t.notOk(readdirSync(m1.mountPoint).includes(String(process.pid)), 'and is not listed');
    t.ok(existsSync(`${m1.mountPoint}/mounts`), 'other names of /proc resolve');
    t.equal(readFileSync(`${m1.mountPoint}/sys/kernel/pid_max`, 'utf8'), '2147483647\n');
    t.ok(
      lstatSync(`${m1.mountPoint}/nodes/2/spawn`).isSymbolicLink(),
      'spawn links into the control view',
    );
    t.equal(readFileSync(`${m1.mountPoint}/nodes/2/name`, 'utf8'), 'n2\n');
    t.equal(readFileSync(`${m1.mountPoint}/nodes/2/address`, 'utf8'), `${n2.address}\n`);
  });

  t.test('a node that stops answering is down within 2 s, and back when it answers', async (t) => {
    const n3 = cluster.node(3);
    const agent = n3.agentPid()!;
    const victim = encodeGpid(3, n3.fixtures!.hostile);
    t.ok(existsSync(`${m1.mountPoint}/${victim}`));
    process.kill(agent, 'SIGSTOP');
    t.teardown(() => process.kill(agent, 'SIGCONT'));
    const t0 = Date.now();
    await waitFor(
      'state down',
      () => readFileSync(`${m1.mountPoint}/nodes/3/state`, 'utf8') === 'down\n' || undefined,
      5000,
    );
    t.ok(Date.now() - t0 <= 2600, `marked down after ${Date.now() - t0} ms`);
    const start = Date.now();
    const names = readdirSync(m1.mountPoint);
    t.ok(Date.now() - start < 1000, 'listing does not wait for it');
    t.notOk(
      names.some((n) => Math.floor(Number(n) / PID_LIMIT) === 3),
      'its processes are left out',
    );
    t.ok(
      names.includes(String(encodeGpid(1, 1))) && names.includes(String(encodeGpid(2, 1))),
      'the others are listed',
    );
    await waitFor('kernel entry expired', () => {
      try {
        statSync(`${m1.mountPoint}/${victim}`);
        return undefined;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code;
      }
    }).then((code) => t.equal(code, 'EHOSTDOWN', 'its files: EHOSTDOWN'));
    t.throws(() => readFileSync(`${m1.mountPoint}/nodes/3/uptime`), { code: 'EHOSTDOWN' });
    process.kill(agent, 'SIGCONT');
    await waitFor(
      'state up again',
      () => readFileSync(`${m1.mountPoint}/nodes/3/state`, 'utf8') === 'up\n' || undefined,
      8000,
    );
    await waitFor(
      'its processes listed again',
      () => readdirSync(m1.mountPoint).includes(String(victim)) || undefined,
      5000,
    );
    t.pass('back by itself');
  });

  t.test(
    'a stale mount of a killed daemon is cleared on the next start; Ctrl-C unmounts',
    async (t) => {
      const m = await startMount(t, cluster, { node: 1 });
      m.process.kill('SIGKILL');
      await new Promise((r) => m.process.once('exit', r));
      t.throws(
        () => readdirSync(m.mountPoint),
        { code: 'ENOTCONN' },
        'the killed daemon left a dead mount',
      );
      const again = await startMount(t, cluster, { node: 1, mountPoint: m.mountPoint });
      t.ok(
        readdirSync(again.mountPoint).includes(String(encodeGpid(1, 1))),
        'the next start mounts over it',
      );
      again.process.kill('SIGINT');
      await new Promise((r) => again.process.once('exit', r));
      const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .some((l) => l.split(' ')[4] === m.mountPoint);
      t.notOk(mounted, 'Ctrl-C unmounted it');
    },
  );
});
