// Every format specifier of `ps L` over the cluster view against the same specifier inside
// each node, after PID translation, on the quiet fixture processes of three nodes (each in
// its own PID, mount and time namespace), as root and as nobody.
//
// The list of specifiers is taken from `ps L` at run time, so a newer procps brings its new
// fields in; each must be classified below (FIELDS), or the test fails:
// - equal: the view's value is the node's, as text.
// - pid: holds PIDs: the node's value translated (encodeGpid; a parent of 0 is 1, the root).
// - moving: a counter or time that moves between two reads: read in the node before and
//   after the view, the view's value lies between the two (times as seconds).
// - cpu: the CPU a task last ran on, numbered as the cluster's stat numbers CPUs (the
//   node's number plus the CPUs of the nodes before it), before or after.
// - shared: proportional and unique set sizes, which move with who else on the machine maps
//   the same pages (ps itself, the agent, the same fixtures in another test's nodes: a page
//   stops being private while another process maps it, so uss can dip and come back between
//   two reads): within 2% of the node's.
// - mem: a share of the cluster's memory (the view's meminfo sums the nodes): the view's
//   RSS * 100 / the view's MemTotal, to ps's rounding.
// - ptrace: read from stat fields Linux shows only to a reader who may ptrace the process
//   (addresses); the view shows every reader what Linux shows the others: compared with ps
//   run in the node as nobody.
// - excluded: cannot work over the view, with the reason (README, Known limits).
// OTHERS lists the fields that differ for another user's process, and why: compared as root
// only. Each field is one `ps -ww -o pid:20,FIELD -p PIDS` (its value the last, unbounded
// column, so values with spaces need no splitting), all fields in one shell per side; -p
// lists the fixtures (tools.test.ts runs `ps -eo` over the whole view).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { defaults } from '../src/defaults';
import { encodeGpid } from '../src/gpid';
import { asUser, startCluster, type TestNode } from './helpers/cluster';
import { nodeArgv, QUIET, runAsync, startMount, viewArgv } from './helpers/mount';

/**
 * One shell runs ps once per field (about 190 runs): on a loaded machine that takes minutes,
 * so its bound (against a hang, not a speed check) is wider than runAsync's minute.
 */
const run = (argv: string[]) => runAsync(argv, 5 * 60 * 1000);

type Kind = 'equal' | 'pid' | 'moving' | 'shared' | 'cpu' | 'mem' | 'ptrace' | { excluded: string };

/** The class of every specifier ps L lists (procps-ng 4.0). */
const FIELDS: Record<string, Kind> = {};
const classify = (kind: Kind, names: string) => {
  for (const n of names.trim().split(/\s+/)) FIELDS[n] = kind;
};
classify(
  'equal',
  `ag_id ag_nice args atime blocked bsdstart caught cgname cgroup class cls cmd comm command
   context egid egroup eip esp euid euser exe f fgid fgroup flag flags fname fsgid
   fsgroup fsuid fsuser fuid fuser gid group ignored intpri label lim longtname lsession lstart
   luid lxc m_size m_trs machine maj_flt majflt min_flt minflt ni nice nlwp oom oomadj opri
   ouid pagein pending policy pri pri_api pri_bar pri_baz pri_foo priority rbytes rchars rgid
   rgroup rops rss rssize rsz rtprio ruid ruser s sched seat sgi_rss sgid sgroup sig sig_block
   sig_catch sig_ignore sig_pend sigcatch sigignore sigmask size slice start start_time stat
   state suid supgid supgrp suser svgid svgroup svuid svuser sz thcount tname trs
   trss tsig tsiz tt tty tty4 tty8 ucmd ucomm uid uid_hack uname unit user uunit vsize vsz wbytes
   wcbytes wchan wchars wname wops zone`,
);
classify('pid', 'pid ppid pgid pgrp sid sess session tpgid tgid spid lwp tid');
classify(
  'moving',
  '%cpu pcpu c cp cputime cputimes bsdtime time times etime etimes stime util cuc cuu',
);
classify('cpu', 'psr cpuid lastcpu sgi_p');
classify('mem', '%mem pmem');
classify('ptrace', 'stackp start_stack drs dsiz m_drs');
classify('shared', 'pss uss');
classify(
  { excluded: "procps's test patterns: a rotating sample value per row, no process data" },
  '_left _left2 _right _right2 _unlimited _unlimited2',
);
classify(
  {
    excluded:
      'ps takes the inode of stat(2) on /proc/PID/ns/NAME, which follows the link into the ' +
      "kernel's nsfs; the view's ns/NAME links name the node's namespace but cannot be followed",
  },
  'cgroupns ipcns mntns netns pidns timens userns utsns',
);
classify(
  {
    excluded:
      "libnuma's node of the CPU the task last ran on, looked up in this machine's " +
      '/sys/devices/system/node: the view numbers CPUs cluster-wide, not as this machine',
  },
  'numa',
);

/**
 * Fields that differ for another user's process (nobody reading root's fixtures), and why;
 * compared as root only.
 */
const OTHERS: Record<string, string> = {};
const othersDiffer = (why: string, names: string) => {
  for (const n of names.trim().split(/\s+/)) OTHERS[n] = why;
};
othersDiffer(
  'Linux prints "0" in wchan to a reader that may not ptrace the process (ps: "-"); ' +
    'the view cannot tell who reads, so wchan is 0400 and EACCES for others (ps: "?")',
  'wchan wname',
);
othersDiffer(
  'the exe link: Linux refuses another user (ps: "-"); the view serves links to every ' +
    'reader (FUSE does not say who reads a link), a documented deviation',
  'exe',
);

const PID_WIDTH = 20;

/** Marks the start of a field's output in a run of `ps` for every field. */
const MARK = '@@@ ';

/**
 * A shell command that runs `ps -ww -o pid:20,FIELD -p PIDS` for each field (its value the
 * last column, unbounded), each output after a line MARK + field: one nsenter or gproc exec
 * for all fields.
 */
function psArgv(fields: string[], pids: number[]): string[] {
  const script = `for f do echo "${MARK}$f"; ps -ww --no-headers -o "pid:${PID_WIDTH},$f" -p ${pids.join(',')} || echo "${MARK}failed"; done`;
  return ['sh', '-c', script, 'sh', ...fields];
}

/** Rows of psArgv's output: pid -> field -> value (trimmed). */
function psRows(out: string): Map<string, Map<string, string>> {
  const rows = new Map<string, Map<string, string>>();
  let field = '';
  for (const line of out.split('\n')) {
    if (line.startsWith(MARK)) {
      field = line.slice(MARK.length);
      continue;
    }
    if (line.trim() === '') continue;
    const pid = line.slice(0, PID_WIDTH).trim();
    if (!rows.has(pid)) rows.set(pid, new Map());
    rows.get(pid)!.set(field, line.slice(PID_WIDTH + 1).trim());
  }
  return rows;
}

/** Seconds of a ps time ("[[dd-]hh:]mm:ss", "mm:ss", "1.5"), or NaN for other text. */
function seconds(s: string): number {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(s);
  if (m)
    return ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3])) * 60 + Number(m[4]);
  return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
}

/** Whether `v` lies between `a` and `b` (as numbers or times), or is one of them as text. */
function between(v: string, a: string, b: string): boolean {
  const [x, p, q] = [v, a, b].map(seconds);
  if (![x, p, q].some(Number.isNaN)) return x >= Math.min(p, q) && x <= Math.max(p, q);
  return v === a || v === b;
}

t.test('every field of ps L over the view equals the same field in each node', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, fixtures: true });
  const mount = await startMount(t, cluster, { node: 1 });
  const mp = mount.mountPoint;
  const memTotal = Number(
    /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(`${mp}/meminfo`, 'latin1'))![1],
  );
  const cpuOffset = new Map<number, number>();
  let cpus = 0;
  for (const node of cluster.nodes) {
    cpuOffset.set(node.id, cpus);
    cpus += readFileSync(`${node.procRoot}/stat`, 'latin1').match(/^cpu\d+ /gm)!.length;
  }

  const listed = (await run(['ps', 'L'])).stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((f) => f !== '');
  t.ok(listed.length >= 100, `ps L lists ${listed.length} format specifiers`);
  const unclassified = listed.filter((f) => !(f in FIELDS));
  t.same(unclassified, [], 'every field of ps L is classified in this test');
  const fields = listed.filter((f) => f in FIELDS);

  for (const [who, user] of [
    ['root', []],
    ['nobody', asUser()],
  ] as const) {
    t.test(`ps -eo FIELD as ${who}`, async (t) => {
      const inNode = (n: TestNode, argv: string[]) => nodeArgv(n, user, argv);
      const overView = (argv: string[]) => viewArgv(mp, user, argv);
      const pids = (n: TestNode) => QUIET.map((f) => n.fixtures![f]);
      const argvOf = (n: TestNode) => psArgv(fields, pids(n));
      const inNodes = () => Promise.all(cluster.nodes.map((n) => run(inNode(n, argvOf(n)))));
      // The ptrace fields as a reader who may not ptrace the fixtures (root's) sees them.
      const masked = fields.filter((f) => FIELDS[f] === 'ptrace');
      const asOther = () =>
        Promise.all(cluster.nodes.map((n) => run(nodeArgv(n, asUser(), psArgv(masked, pids(n))))));
      const [a, ma] = await Promise.all([inNodes(), asOther()]);
      // What the view serves may be as old as its snapshot lifetime plus the kernel's cache
      // (about 2 s): wait that long, so that it was read after the node's first reading and
      // a moving value (times, %cpu) lies between the node's two.
      await new Promise((r) =>
        setTimeout(
          r,
          Math.max(defaults.snapshotLifetimeMs, defaults.watchIntervalMs) +
            defaults.kernelCacheSeconds * 1000 +
            500,
        ),
      );
      const gpids = cluster.nodes.flatMap((n) => pids(n).map((p) => encodeGpid(n.id, p)));
      const v = await run(overView(psArgv(fields, gpids)));
      const [b, mb] = await Promise.all([inNodes(), asOther()]);
      for (const r of [...ma, ...mb]) {
        t.equal(r.status, 0, `ps in a node as nobody: exit status 0 ${r.stderr}`);
        t.notMatch(r.stdout, `${MARK}failed`, 'every ps in a node as nobody: exit status 0');
      }
      t.equal(v.stderr, '', 'ps over the view: nothing on stderr');
      t.equal(v.status, 0, 'exit status 0');
      t.notMatch(v.stdout, `${MARK}failed`, 'every ps over the view: exit status 0');
      for (const r of [...a, ...b]) {
        t.equal(r.status, 0, `ps in a node: exit status 0 ${r.stderr}`);
        t.notMatch(r.stdout, `${MARK}failed`, 'every ps in a node: exit status 0');
      }
      const view = psRows(v.stdout);
      // Each node's rows, with the ptrace fields as nobody read them.
      const withMasked = (rs: typeof a, ms: typeof a) =>
        rs.map((r, i) => {
          const rows = psRows(r.stdout);
          for (const [pid, fs] of psRows(ms[i].stdout))
            for (const [f, value] of fs) rows.get(pid)?.set(f, value);
          return rows;
        });
      const before = withMasked(a, ma);
      const after = withMasked(b, mb);

      const failed = new Map<string, string[]>();
      const fail = (f: string, why: string) => {
        if (!failed.has(f)) failed.set(f, []);
        failed.get(f)!.push(why);
      };
      let compared = 0;
      for (const [i, node] of cluster.nodes.entries()) {
        for (const fx of QUIET) {
          const pid = String(node.fixtures![fx]);
          const gpid = String(encodeGpid(node.id, Number(pid)));
          const [a, b, g] = [before[i].get(pid), after[i].get(pid), view.get(gpid)];
          if (!a || !b || !g) {
            t.fail(`node ${node.id} ${fx} (${pid}) listed by ps in the node and over the view`);
            continue;
          }
          compared++;
          for (const f of fields) {
            const kind = FIELDS[f];
            if (typeof kind === 'object' || (who === 'nobody' && f in OTHERS)) continue;
            const [va, vb, vg] = [a.get(f)!, b.get(f)!, g.get(f)!];
            const where = `node ${node.id} ${fx}: ${JSON.stringify(vg)} (node: ${JSON.stringify(va)}, ${JSON.stringify(vb)})`;
            const tr = (x: string) =>
              x === '0' && f === 'ppid'
                ? '1'
                : /^\d+$/.test(x) && x !== '0'
                  ? String(encodeGpid(node.id, Number(x)))
                  : x;
            const cpu = (x: string) =>
              /^\d+$/.test(x) ? String(Number(x) + cpuOffset.get(node.id)!) : x;
            let ok: boolean;
            if (kind === 'equal' || kind === 'ptrace') ok = vg === va || vg === vb;
            else if (kind === 'pid') ok = vg === tr(va) || vg === tr(vb);
            else if (kind === 'moving') ok = between(vg, va, vb);
            else if (kind === 'shared')
              ok = [va, vb].some((w) => Math.abs(Number(vg) - Number(w)) <= Number(w) * 0.02);
            else if (kind === 'cpu') ok = vg === cpu(va) || vg === cpu(vb);
            else {
              const rss = Number(g.get('rss'));
              ok = Math.abs(Number(vg) - (rss * 100) / memTotal) <= 0.1;
            }
            if (!ok) fail(f, where);
          }
        }
      }
      // A field that holds each fixture's own PID in the node is a PID field.
      const holdsPids = fields.filter(
        (f) =>
          FIELDS[f] !== 'pid' &&
          cluster.nodes.every((n, i) =>
            QUIET.every((fx) => {
              const pid = String(n.fixtures![fx]);
              return before[i].get(pid)?.get(f) === pid;
            }),
          ),
      );
      t.same(holdsPids, [], "fields that hold each fixture's PID are classified pid");
      t.equal(
        compared,
        QUIET.length * cluster.nodes.length,
        'every fixture of every node compared',
      );
      for (const [f, whys] of failed)
        t.fail(`${f} (${JSON.stringify(FIELDS[f])}): ${whys.join('; ')}`);

      // Fields that hold nothing for any fixture in the node ("-", "?" or empty): compared,
      // but no evidence that the view serves what they read.
      const blank = fields.filter(
        (f) =>
          typeof FIELDS[f] !== 'object' &&
          cluster.nodes.every((n, i) =>
            QUIET.every((fx) =>
              ['-', '?', ''].includes(before[i].get(String(n.fixtures![fx]))?.get(f) ?? ''),
            ),
          ),
      );
      t.comment(
        `compared, but "-", "?" or empty for every fixture in the nodes: ${blank.join(' ')}`,
      );

      // The classification, as a table.
      const byKind = new Map<string, string[]>();
      for (const f of fields) {
        const k = FIELDS[f];
        const key =
          typeof k === 'object'
            ? `excluded: ${k.excluded}`
            : who === 'nobody' && f in OTHERS
              ? `excluded for another user's process: ${OTHERS[f]}`
              : k;
        if (!byKind.has(key)) byKind.set(key, []);
        byKind.get(key)!.push(f);
      }
      t.comment(
        `fields of ps L as ${who}:\n` +
          [...byKind]
            .map(([k, fs]) => `${String(fs.length).padStart(3)}  ${k}\n     ${fs.join(' ')}`)
            .join('\n'),
      );
    });
  }
});
