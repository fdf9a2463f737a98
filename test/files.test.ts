// The per-process files read on demand (smaps, schedstat, wchan...), the exe, cwd and root
// links, fd/, fdinfo/ and ns/: each compared with the same file in the owning node's own
// /proc, read as root and as an ordinary user, and psutil over the view compared with
// psutil inside the node. Two nodes, each in its own PID and mount namespaces; each
// node's test processes run from a private tmpfs of that node (their executable, working
// directory and open files are paths only that node has), so an answer from the wrong
// node differs.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGpid } from '../src/gpid';
import { GPROC, startCluster, waitFor, type TestNode, NOBODY } from './helpers/cluster';
import { alive, inNode, inView, startMount } from './helpers/mount';

const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const PY = '/usr/bin/python3'; // Debian's, which has python3-psutil

/** The files of spec 3 read when asked, as Linux names them. */
const FILES = [
  'smaps_rollup',
  'smaps',
  'maps',
  'schedstat',
  'oom_score',
  'oom_score_adj',
  'wchan',
  'loginuid',
  'autogroup',
];
/** Files every thread has its own of (task/<tid>/). */
const THREAD_FILES = ['io', 'schedstat', 'wchan'];

/**
 * Everything a reader gets from the new files of some processes under a /proc root: each
 * file's bytes (base64), each link's target, each directory's names, or the errno name.
 */
const DUMP = `
import base64, errno, json, os, sys
root, files, thread_files = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
def res(fn):
    try:
        return ['ok', fn()]
    except OSError as e:
        return ['err', errno.errorcode[e.errno]]
def read(p):
    with open(p, 'rb') as f:
        return base64.b64encode(f.read()).decode()
out = {}
for pid in sys.argv[4:]:
    d = root + '/' + pid
    r = {}
    for f in files:
        r[f] = res(lambda: read(d + '/' + f))
    for l in ('exe', 'cwd', 'root'):
        r[l] = res(lambda: os.readlink(d + '/' + l))
    for sub in ('fd', 'fdinfo', 'ns', 'task'):
        r[sub] = res(lambda: sorted(os.listdir(d + '/' + sub), key=lambda n: (len(n), n)))
    for n in (r['fd'][1] if r['fd'][0] == 'ok' else ['0', '3']):
        r['fd/' + n] = res(lambda: os.readlink(d + '/fd/' + n))
        r['fdinfo/' + n] = res(lambda: read(d + '/fdinfo/' + n))
    for n in (r['ns'][1] if r['ns'][0] == 'ok' else ['pid', 'mnt']):
        r['ns/' + n] = res(lambda: os.readlink(d + '/ns/' + n))
    for i, tid in enumerate(r['task'][1] if r['task'][0] == 'ok' else []):
        for f in thread_files:
            r['task/%d/%s' % (i, f)] = res(lambda: read(d + '/task/' + tid + '/' + f))
        for l in ('exe', 'cwd', 'root'):
            r['task/%d/%s' % (i, l)] = res(lambda: os.readlink(d + '/task/' + tid + '/' + l))
    out[pid] = r
print(json.dumps(out))
`;

type Answer = ['ok', string | string[]] | ['err', string];
type Dump = Record<string, Record<string, Answer>>;

function dumpArgs(root: string, pids: (number | string)[]): string[] {
  return [
    PY,
    '-c',
    DUMP,
    root,
    JSON.stringify(FILES),
    JSON.stringify(THREAD_FILES),
    ...pids.map(String),
  ];
}

/** What a reader sees in the node's own /proc, as root or as nobody. */
function dumpInNode(node: TestNode, pids: number[], asNobody: boolean): Dump {
  const argv = [...(asNobody ? AS_NOBODY : []), ...dumpArgs('/proc', pids)];
  const r = inNode(node, argv);
  if (r.status !== 0) throw new Error(`dump in node ${node.id}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Dump;
}

/** What a reader sees over the view (the mount itself), as root or as nobody. */
function dumpInView(mountPoint: string, gpids: number[], asNobody: boolean): Dump {
  const argv = [...(asNobody ? AS_NOBODY : []), ...dumpArgs(mountPoint, gpids)];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`dump over the view: ${r.stderr}`);
  return JSON.parse(r.stdout) as Dump;
}

/** A node's fdinfo bytes as the view must give them: a pidfd's Pid and first NSpid as gpids. */
function translateFdinfo(node: number, b64: string): string {
  const text = Buffer.from(b64, 'base64').toString('latin1');
  return Buffer.from(
    text.replace(/^(Pid|NSpid):\t(-?\d+)/gm, (_m, k: string, v: string) => {
      const n = Number(v);
      return `${k}:\t${n > 0 ? encodeGpid(node, n) : n}`;
    }),
    'latin1',
  ).toString('base64');
}

/**
 * smaps text, from its bytes (base64), with the figures that depend on which other processes map the same
 * pages at the moment of reading (Pss*, Shared_*, Private_*: a reader's own python maps
 * libc and libpython too) replaced by "N"; the lines stay in place, every other byte counts.
 */
function maskSharing(b64: string): string {
  const text = Buffer.from(b64, 'base64').toString('latin1');
  // The figure and its padding: the column is right-aligned, so a figure of another width
  // moves the spaces before it.
  return text.replace(/^((?:Pss|Shared_|Private_)\w*:)\s+\d+( kB)$/gm, '$1 N$2');
}

/**
 * smaps text as read in the node (`a`, then `b`) and over the view (`v`, between them),
 * with every line that differs between `a` and `b` masked in `a` and `v` (a line count that
 * differs leaves them whole: the comparison then fails and shows why).
 */
function maskMoved(a: string, b: string, v: string): [string, string] {
  const [al, bl, vl] = [a, b, v].map((x) => x.split('\n'));
  if (al.length !== bl.length || al.length !== vl.length) return [a, v];
  const mask = (lines: string[]) =>
    lines.map((l, i) => (al[i] !== bl[i] ? '(moved on the node)' : l)).join('\n');
  return [mask(al), mask(vl)];
}

/** The test processes of one node (PIDs in its namespace). */
interface Workers {
  /** root: its executable, working directory and descriptors 3 and 4 in the node's tmpfs. */
  work: number;
  /** The same, run as nobody. */
  nobody: number;
  /** root python holding a pidfd of `work` (fdinfo with PIDs) and a file of the tmpfs. */
  holder: number;
  /** The private tmpfs, as the node's processes see it. */
  dir: string;
}

/**
 * Mounts a tmpfs in the node's own mount namespace and starts the test processes from it.
 * The mount point exists (empty) on the host too; the tmpfs only in the node.
 */
function startWorkers(node: TestNode, base: string): Workers {
  const dir = join(base, `fx-${node.id}`);
  const exe = `${dir}/sleep-n${node.id}`;
  // A file the reader's machine has too (outside the tmpfs): psutil's open_files() lists
  // only paths that are regular files where it runs.
  const shared = join(base, `shared-n${node.id}`);
  writeFileSync(shared, `shared file of node ${node.id}\n`);
  const script = [
    'set -e',
    `mkdir -p ${dir}`,
    `mount -t tmpfs -o mode=0755 gproc-fx-${node.id} ${dir}`,
    `cp /bin/sleep ${exe}`,
    `echo data of node ${node.id} > ${dir}/data`,
    `mkdir ${dir}/nobody && chown ${NOBODY}:${NOBODY} ${dir}/nobody`,
    `cd ${dir}`,
    `${exe} 1000 3<data 4>out 5<${shared} </dev/null >/dev/null 2>&1 & w=$!`,
    `(cd nobody && exec ${AS_NOBODY.join(' ')} ${exe} 1001 3<../data 4>out 5<${shared} </dev/null >/dev/null 2>&1) & n=$!`,
    `${PY} -c 'import os, sys, time
fd = os.pidfd_open(int(sys.argv[1]))
held = open("held", "w")
shared = open(sys.argv[2])
time.sleep(1000)' $w ${shared} </dev/null >/dev/null 2>&1 & h=$!`,
    'echo $w $n $h',
  ].join('\n');
  const r = inNode(node, ['sh', '-c', script]);
  if (r.status !== 0) throw new Error(`workers of node ${node.id}: ${r.stderr}`);
  const [work, nobody, holder] = r.stdout.trim().split(' ').map(Number);
  return { work, nobody, holder, dir };
}

t.test('per-process files, links and descriptors over the view', async (t) => {
  const cluster = await startCluster(t, { nodes: 2, fixtures: true });
  const mount = await startMount(t, cluster, { node: 1 });
  const mp = mount.mountPoint;
  const workers = new Map<number, Workers>();
  for (const node of cluster.nodes) {
    const w = startWorkers(node, cluster.dir);
    workers.set(node.id, w);
    const exe = (pid: number) => {
      try {
        return readlinkSync(`${node.procRoot}/${pid}/exe`);
      } catch {
        return '';
      }
    };
    const fds = (pid: number) => {
      const r = inNode(node, ['ls', `/proc/${pid}/fd`]);
      return r.stdout.split('\n').length;
    };
    // Until each has exec'd (setpriv, the shell) and the holder has opened its files.
    await waitFor(
      `test processes of node ${node.id}`,
      () =>
        exe(w.work).endsWith(`sleep-n${node.id}`) &&
        exe(w.nobody).endsWith(`sleep-n${node.id}`) &&
        fds(w.holder) >= 7,
    );
    for (const pid of [w.work, w.nobody, w.holder])
      await waitFor(`${node.id}:${pid} in the view`, () =>
        existsSync(`${mp}/${encodeGpid(node.id, pid)}`),
      );
  }

  const pidsOf = (node: TestNode) => {
    const w = workers.get(node.id)!;
    return [w.work, w.nobody, w.holder, node.fixtures!.threads];
  };

  for (const asNobody of [false, true]) {
    t.test(
      `each file as the node's /proc gives it, read as ${asNobody ? 'nobody' : 'root'}`,
      async (t) => {
        for (const node of cluster.nodes) {
          const w = workers.get(node.id)!;
          const pids = pidsOf(node);
          // The node's files read before and after the view's: a line that moved between
          // the two (memory reclaimed under load) is not held against the view.
          const want = dumpInNode(node, pids, asNobody);
          const got = dumpInView(
            mp,
            pids.map((p) => encodeGpid(node.id, p)),
            asNobody,
          );
          const after = dumpInNode(node, pids, asNobody);
          for (const pid of pids) {
            const mine = !asNobody || pid === w.nobody; // the reader's own process
            const g = got[encodeGpid(node.id, pid)];
            const wn = want[pid];
            const where = `node ${node.id} pid ${pid}`;
            t.same(Object.keys(g).sort(), Object.keys(wn).sort(), `${where}: the same entries`);
            for (const [key, answer] of Object.entries(wn)) {
              let expect: Answer = answer;
              let have = g[key];
              if (key.startsWith('fdinfo/') && answer[0] === 'ok')
                expect = ['ok', translateFdinfo(node.id, answer[1] as string)];
              if (key === 'task' && answer[0] === 'ok')
                expect = [
                  'ok',
                  (answer[1] as string[]).map((tid) => String(encodeGpid(node.id, Number(tid)))),
                ];
              // Sharing figures move with who else maps the same pages (maskSharing); smaps
              // is compared as text, line by line, the lines that moved on the node masked.
              const later = after[pid]?.[key];
              if (
                /^smaps/.test(key) &&
                answer[0] === 'ok' &&
                have[0] === 'ok' &&
                later?.[0] === 'ok'
              ) {
                const [a, v] = maskMoved(
                  maskSharing(answer[1] as string),
                  maskSharing(later[1] as string),
                  maskSharing(have[1] as string),
                );
                expect = ['ok', a];
                have = ['ok', v];
              }
              // Documented deviations (native-notes/security.md): links are served to every
              // reader (FUSE does not say who reads one); another user's wchan is EACCES (mode
              // 0400) where Linux prints "0".
              if (!mine && /^(task\/\d+\/)?(exe|cwd|root)$/.test(key)) {
                t.same(answer, ['err', 'EACCES'], `${where} ${key}: Linux refuses another user`);
                t.equal(g[key][0], 'ok', `${where} ${key}: served over the view (deviation)`);
                continue;
              }
              if (!mine && (key === 'wchan' || /^task\/\d+\/wchan$/.test(key))) {
                t.same(answer, ['ok', Buffer.from('0').toString('base64')], `${where} ${key}: "0"`);
                t.same(
                  g[key],
                  ['err', 'EACCES'],
                  `${where} ${key}: EACCES over the view (deviation)`,
                );
                continue;
              }
              t.same(have, expect, `${where} ${key}`);
            }
            if (mine) {
              // The same files must actually have been read on both sides.
              for (const f of ['smaps_rollup', 'smaps', 'exe', 'cwd', 'fd', 'ns/pid'])
                t.equal(wn[f]?.[0], 'ok', `${where} ${f} readable in the node`);
            } else {
              t.same(g.smaps, ['err', 'EACCES'], `${where} smaps: EACCES for another user`);
              t.same(g.fd, ['err', 'EACCES'], `${where} fd/: EACCES for another user`);
            }
          }
          if (!asNobody) {
            // Distinct nodes, distinct answers: each node's own tmpfs paths.
            const g = got[encodeGpid(node.id, w.work)];
            t.same(
              g.exe,
              ['ok', `${w.dir}/sleep-n${node.id}`],
              `node ${node.id}: exe in its tmpfs`,
            );
            t.same(g.cwd, ['ok', w.dir], `node ${node.id}: cwd`);
            t.same(g['fd/3'], ['ok', `${w.dir}/data`], `node ${node.id}: fd 3`);
            const h = got[encodeGpid(node.id, w.holder)];
            const pidfd = Object.entries(h).find(([, a]) => a[1] === 'anon_inode:[pidfd]');
            t.ok(pidfd, `node ${node.id}: the holder's pidfd is listed`);
            const info = h[pidfd![0].replace('fd/', 'fdinfo/')];
            t.match(
              Buffer.from(info[1] as string, 'base64').toString(),
              new RegExp(`^Pid:\\t${encodeGpid(node.id, w.work)}$`, 'm'),
              `node ${node.id}: the pidfd's Pid is the gpid`,
            );
          }
        }
      },
    );
  }

  t.test('modes and owners', async (t) => {
    const node = cluster.node(2);
    const w = workers.get(2)!;
    const g = encodeGpid(2, w.nobody);
    const st = spawnSync(
      'stat',
      [
        '-c',
        '%n %a %u %F %s',
        ...['fd', 'fdinfo', 'ns', 'schedstat', 'exe', 'fd/3'].map((f) => `${mp}/${g}/${f}`),
      ],
      { encoding: 'utf8' },
    );
    t.equal(st.status, 0, st.stderr);
    const rows = new Map(
      st.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const [n, ...rest] = l.split(' ');
          return [n.slice(`${mp}/${g}/`.length), rest.join(' ')];
        }),
    );
    t.equal(rows.get('fd'), `500 ${NOBODY} directory 0`);
    t.equal(rows.get('fdinfo'), `500 ${NOBODY} directory 0`);
    t.equal(rows.get('ns'), `500 ${NOBODY} directory 0`);
    // Files of mode 0400 are links to the same files under .started/<starttime>/ (tree.ts).
    for (const f of ['smaps', 'wchan']) {
      const target = spawnSync('stat', ['-L', '-c', '%a %u %F', `${mp}/${g}/${f}`], {
        encoding: 'utf8',
      });
      t.equal(target.stdout.split(' ').slice(0, 3).join(' '), `400 ${NOBODY} regular`, f);
      t.match(
        readlinkSync(`${mp}/${g}/${f}`),
        new RegExp(`^\\.started/\\d+/${f}$`),
        `${f}: its link`,
      );
    }
    t.equal(rows.get('schedstat')?.split(' ').slice(0, 3).join(' '), `444 ${NOBODY} regular`);
    t.equal(rows.get('exe'), `777 ${NOBODY} symbolic link 0`, 'exe: a link of size 0, as Linux');
    t.equal(rows.get('fd/3'), `777 ${NOBODY} symbolic link 64`, 'fd/3: size 64, as Linux');
    // A descriptor the process does not have is no entry; nor is a thread's fd/ there.
    t.notOk(existsSync(`${mp}/${g}/fd/99`), 'fd/99: ENOENT');
    t.notOk(existsSync(`${mp}/${g}/fdinfo/99`), 'fdinfo/99: ENOENT');
    t.ok(alive(node, w.nobody));
  });

  t.test("--hidepid: other users' process directories are 0500", async (t) => {
    const hidden = await startMount(t, cluster, { node: 2, args: ['--hidepid'] });
    const hp = hidden.mountPoint;
    const w = workers.get(1)!;
    const [rootsG, minesG] = [encodeGpid(1, w.work), encodeGpid(1, w.nobody)];
    await waitFor('the hidepid mount lists node 1', () => existsSync(`${hp}/${rootsG}`));
    const st = (g: number) => statSync(`${hp}/${g}`);
    t.equal(st(rootsG).mode & 0o777, 0o500, "root's process: 0500");
    t.equal(st(minesG).mode & 0o777, 0o500, "nobody's process: 0500, owned by nobody");
    t.equal(st(minesG).uid, NOBODY);
    t.equal(statSync(`${hp}/1`).mode & 0o777, 0o555, 'the cluster root stays 0555');
    t.equal(statSync(`${mp}/${rootsG}`).mode & 0o777, 0o555, 'without --hidepid: 0555');
    const cat = (path: string) =>
      spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), 'cat', path], { encoding: 'utf8' });
    t.match(
      cat(`${hp}/${rootsG}/cmdline`).stderr,
      /Permission denied/,
      "another's cmdline: EACCES",
    );
    t.equal(cat(`${hp}/${minesG}/cmdline`).status, 0, 'its own cmdline: readable');
    t.equal(cat(`${mp}/${rootsG}/cmdline`).status, 0, "another's cmdline without --hidepid");
    t.equal(spawnSync('cat', [`${hp}/${rootsG}/cmdline`]).status, 0, 'root reads every one');
    // ps as nobody lists only nobody's processes, as on a /proc mounted with hidepid=1.
    const ps = spawnSync(
      AS_NOBODY[0],
      [...AS_NOBODY.slice(1), ...GPROC, 'exec', '--mount', hp, '--', 'ps', '-eo', 'pid=,uid='],
      { encoding: 'utf8' },
    );
    t.equal(ps.stderr, '', 'ps as nobody over the hidepid view');
    const lines = ps.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    t.ok(
      lines.some(([pid]) => pid === String(minesG)),
      "nobody's own process is listed",
    );
    t.notOk(
      lines.some(([pid]) => pid === String(rootsG)),
      "root's is not",
    );
    t.same(
      lines.filter(([pid, uid]) => uid !== String(NOBODY) && pid !== '1'),
      [],
      "only nobody's, and the cluster root",
    );
  });

  t.test('psutil over the view equals psutil in the node', async (t) => {
    const script = [
      'import json, sys, psutil',
      'if sys.argv[1] != "/proc": psutil.PROCFS_PATH = sys.argv[1]',
      'out = {}',
      'for pid in map(int, sys.argv[2:]):',
      '    p = psutil.Process(pid)',
      '    m = p.memory_full_info()',
      '    out[pid] = dict(cwd=p.cwd(), exe=p.exe(), num_fds=p.num_fds(),',
      '                    open_files=sorted((f.path, f.fd, f.position, f.mode) for f in p.open_files()),',
      '                    mem=dict(uss=m.uss, pss=m.pss, swap=m.swap, rss=m.rss),',
      '                    io=list(p.io_counters()))',
      'print(json.dumps(out))',
    ].join('\n');
    for (const node of cluster.nodes) {
      const w = workers.get(node.id)!;
      const pids = [w.work, w.nobody, w.holder];
      const own = inNode(node, [PY, '-c', script, '/proc', ...pids.map(String)]);
      t.equal(own.stderr, '', `psutil in node ${node.id}`);
      const want = JSON.parse(own.stdout);
      const gpids = pids.map((p) => String(encodeGpid(node.id, p)));
      for (const [how, r] of [
        ['gproc exec', inView(mount, [PY, '-c', script, '/proc', ...gpids])],
        ['PROCFS_PATH', spawnSync(PY, ['-c', script, mp, ...gpids], { encoding: 'utf8' })],
      ] as const) {
        t.equal(r.stderr, '', `psutil over the view (${how}), node ${node.id}`);
        const got = JSON.parse(r.stdout);
        for (const [i, pid] of pids.entries()) {
          const [g, wn] = [got[gpids[i]], want[pid]];
          const where = `${how}: node ${node.id} pid ${pid}`;
          // open_files() keeps the paths that are regular files on the reader's machine
          // (psutil stats each): the node's tmpfs files are not there, the shared one is.
          const here = (f: [string]) => isFile(f[0]);
          t.same(g.open_files, wn.open_files.filter(here), `${where} open_files`);
          t.ok(g.open_files.length >= 1, `${where}: open_files lists the shared file`);
          // pss and uss move with who else maps the same pages (maskSharing): within 10%.
          for (const k of ['pss', 'uss'])
            t.ok(
              Math.abs(g.mem[k] - wn.mem[k]) <= wn.mem[k] * 0.1,
              `${where} ${k} ${g.mem[k]} ~ ${wn.mem[k]}`,
            );
          const rest = (x: typeof g) => ({
            ...x,
            open_files: 0,
            mem: { ...x.mem, pss: 0, uss: 0 },
          });
          t.same(rest(g), rest(wn), where);
        }
      }
      t.equal(want[w.work].exe, `${w.dir}/sleep-n${node.id}`, 'the node answered with its own exe');
      t.ok(want[w.holder].num_fds >= 5, 'the holder has its descriptors');
    }
  });
});

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
