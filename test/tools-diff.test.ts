// Differential tests of per-process tools: `pidstat -d -r -u -w`, `top -b -n1` and htop
// (in a terminal, tmux) over the cluster view against the same tool inside each node, after
// PID translation, on the quiet fixture processes of three nodes (each in its own PID, mount
// and time namespace), each run as root and as nobody.
//
// What may differ, and why (each is asserted, not skipped):
// - PIDs are gpids (encodeGpid(node, pid)); a parent of 0 on the node is 1, the cluster root.
// - %MEM is a share of the cluster's memory (the view's meminfo sums the nodes): checked as
//   RSS * 100 / the view's MemTotal, to the tool's rounding.
// - The CPU a task last ran on is numbered as the cluster's stat numbers CPUs (node 1's
//   first, then node 2's...): the node's number plus the CPUs of the nodes before it.
// - Counters and sizes that can move between two reads (RSS, PSS, CPU time) are read in the
//   node before and after the view: the view's value must lie between the two (for the
//   quiet fixtures they are equal, so this is equality); htop's PSS, which moves with who
//   else maps the same pages, within 10%.
// - htop's IO priority (ioprio_get(2)) and SWPD%/IOD% (taskstats over netlink) are system
//   calls on the gpid: the kernel does not know it, so htop shows "??" and "N/A" where the
//   node's htop shows "B4" and "0.0". Documented deviations.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGpid, PID_LIMIT } from '../src/gpid';
import { asUser, startCluster, waitFor, type TestNode } from './helpers/cluster';
import { nodeArgv, QUIET, runAsync as run, startMount, viewArgv } from './helpers/mount';

/** A number of a tool's column ("0.00", "13524", "-1.00"), or NaN for text ("232M", "N/A"). */
const num = (s: string) => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN);

/**
 * Whether the view's value `v` agrees with the node's before (`a`) and after (`b`): between
 * the two for numbers, equal to one of them for text.
 */
function between(v: string, a: string, b: string): boolean {
  const [x, lo, hi] = [num(v), Math.min(num(a), num(b)), Math.max(num(a), num(b))];
  if (!Number.isNaN(x) && !Number.isNaN(lo)) return x >= lo && x <= hi;
  return v === a || v === b;
}

/** One row of a tool: its columns by header name, the command last (it may hold spaces). */
type Row = Record<string, string>;

/**
 * pidstat's output as rows keyed "<section>|<interval or Average>|<PID>": a section is one
 * report (-u, -r, -d, -w), named by its header's columns after PID. A line that is no row
 * continues the command of the row before (a comm with a newline, as the hostile fixture's).
 */
function pidstatRows(out: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  let cols: string[] = [];
  let last: Row | undefined;
  for (const line of out.split('\n').slice(1)) {
    if (line === '') {
      last = undefined;
      continue;
    }
    const tokens = line.trim().split(/\s+/);
    if (tokens[1] === 'UID' && tokens[2] === 'PID') {
      cols = tokens.slice(1);
      last = undefined;
      continue;
    }
    const when =
      tokens[0] === 'Average:' ? 'Average' : /^\d\d:\d\d:\d\d$/.test(tokens[0]) ? 'interval' : '';
    if (!when) {
      if (last) last.Command += `\n${line}`;
      continue;
    }
    const row: Row = {};
    cols.slice(0, -1).forEach((c, i) => (row[c] = tokens[i + 1]));
    row.Command = tokens.slice(cols.length).join(' ');
    rows.set(`${cols.slice(2).join(' ')}|${when}|${row.PID}`, row);
    last = row;
  }
  return rows;
}

/** top -b's process lines by PID (the columns of top's default layout). */
function topRows(out: string): Map<string, Row> {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => /^\s*PID USER\s/.test(l));
  const cols = lines[at].trim().split(/\s+/);
  const rows = new Map<string, Row>();
  for (const line of lines.slice(at + 1)) {
    const tokens = line.trim().split(/\s+/);
    if (!/^\d+$/.test(tokens[0])) continue;
    const row: Row = {};
    cols.slice(0, -1).forEach((c, i) => (row[c] = tokens[i]));
    row.COMMAND = tokens.slice(cols.length - 1).join(' ');
    rows.set(row.PID, row);
  }
  return rows;
}

/** The view's MemTotal, kB (what pidstat, top and htop divide RSS by). */
const memTotalKb = (mp: string) =>
  Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(`${mp}/meminfo`, 'latin1'))![1]);

t.test('pidstat, top and htop over the view equal the same tools in each node', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, fixtures: true });
  const mount = await startMount(t, cluster, { node: 1 });
  const mp = mount.mountPoint;
  const memTotal = memTotalKb(mp);
  // The cluster's number of each node's cpu0: the CPUs of the nodes before it.
  const cpuOffset = new Map<number, number>();
  let cpus = 0;
  for (const node of cluster.nodes) {
    cpuOffset.set(node.id, cpus);
    cpus += readFileSync(`${node.procRoot}/stat`, 'latin1').match(/^cpu\d+ /gm)!.length;
  }
  t.equal(
    readFileSync(`${mp}/stat`, 'latin1').match(/^cpu\d+ /gm)!.length,
    cpus,
    `the view's stat lists the ${cpus} CPUs of the nodes`,
  );
  const tr = (node: number, pid: string) => String(encodeGpid(node, Number(pid)));
  const cpuOf = (node: number, cpu: string) => String(Number(cpu) + cpuOffset.get(node)!);

  for (const [who, user] of [
    ['root', []],
    ['nobody', asUser()],
  ] as const) {
    t.test(`pidstat -d -r -u -w as ${who}`, async (t) => {
      const argv = ['pidstat', '-d', '-r', '-u', '-w', '-p', 'ALL', '1', '1'];
      // The command as a user types it (only the processes active in that second): it
      // runs, and each process it names is a process of the view.
      const bare = await run(
        viewArgv(mp, [...user], ['pidstat', '-d', '-r', '-u', '-w', '1', '1']),
      );
      t.equal(bare.stderr, '', 'pidstat -d -r -u -w 1 1: nothing on stderr');
      t.equal(bare.status, 0, 'and exit status 0');
      for (const row of pidstatRows(bare.stdout).values())
        t.ok(
          row.PID === '1' || Math.floor(Number(row.PID) / PID_LIMIT) >= 1,
          `pidstat names gpid ${row.PID}`,
        );
      // -p ALL lists the quiet processes too: those are compared, read in each node before
      // and after the view.
      const inNodes = () =>
        Promise.all(cluster.nodes.map((n) => run(nodeArgv(n, [...user], argv))));
      const before = await inNodes();
      const view = await run(viewArgv(mp, [...user], argv));
      const after = await inNodes();
      t.equal(view.stderr, '', 'pidstat over the view: nothing on stderr');
      t.equal(view.status, 0, 'exit status 0');
      const got = pidstatRows(view.stdout);
      for (const [i, node] of cluster.nodes.entries()) {
        t.equal(before[i].status, 0, `pidstat in node ${node.id}: ${before[i].stderr}`);
        const [a, b] = [pidstatRows(before[i].stdout), pidstatRows(after[i].stdout)];
        let compared = 0;
        for (const [key, wa] of a) {
          const [section, when, pid] = key.split('|');
          const wb = b.get(key);
          const g = got.get(`${section}|${when}|${tr(node.id, pid)}`);
          if (!wb || !g) continue; // pidstat itself, nsenter: not in every run
          const where = `node ${node.id} pid ${pid} [${section}] ${when}`;
          const fixture = QUIET.some((f) => String(node.fixtures![f]) === pid);
          if (!fixture) {
            // Running processes (the agent): their figures move; who and what they are does not.
            t.same([g.UID, g.Command], [wa.UID, wa.Command], `${where}: UID and Command`);
            continue;
          }
          for (const col of Object.keys(wa)) {
            if (col === 'PID') t.equal(g.PID, tr(node.id, pid), `${where}: PID as gpid`);
            else if (col === 'CPU' && when === 'interval')
              t.ok(
                [wa.CPU, wb.CPU].some((c) => cpuOf(node.id, c) === g.CPU),
                `${where}: CPU ${g.CPU} is the node's ${wa.CPU} as the cluster numbers it`,
              );
            else if (col === '%MEM') {
              const want = (Number(g.RSS) * 100) / memTotal;
              t.ok(
                Math.abs(Number(g['%MEM']) - want) <= 0.01,
                `${where}: %MEM ${g['%MEM']} = RSS ${g.RSS} of the cluster's ${memTotal} kB`,
              );
            } else
              t.ok(
                between(g[col], wa[col], wb[col]),
                `${where}: ${col} ${JSON.stringify(g[col])} (node: ${JSON.stringify(wa[col])}, ${JSON.stringify(wb[col])})`,
              );
          }
          compared++;
        }
        // Five fixtures in four reports, each in the interval and the average.
        t.ok(compared >= QUIET.length * 4 * 2, `node ${node.id}: ${compared} rows compared`);
      }
    });

    t.test(`top -b -n1 as ${who}`, async (t) => {
      const argv = ['top', '-b', '-n1', '-w', '512'];
      const inNodes = () =>
        Promise.all(cluster.nodes.map((n) => run(nodeArgv(n, [...user], argv))));
      const before = await inNodes();
      const view = await run(viewArgv(mp, [...user], argv));
      const after = await inNodes();
      t.equal(view.stderr, '', 'top over the view: nothing on stderr');
      t.equal(view.status, 0, 'exit status 0');
      const got = topRows(view.stdout);
      for (const [i, node] of cluster.nodes.entries()) {
        t.equal(before[i].status, 0, `top in node ${node.id}: ${before[i].stderr}`);
        const [a, b] = [topRows(before[i].stdout), topRows(after[i].stdout)];
        let compared = 0;
        for (const [pid, wa] of a) {
          const wb = b.get(pid);
          const g = got.get(tr(node.id, pid));
          if (!wb || !g) continue; // top itself, nsenter
          const where = `node ${node.id} pid ${pid}`;
          if (!QUIET.some((f) => String(node.fixtures![f]) === pid)) {
            t.same([g.USER, g.COMMAND], [wa.USER, wa.COMMAND], `${where}: USER and COMMAND`);
            continue;
          }
          for (const col of Object.keys(wa)) {
            if (col === 'PID') t.equal(g.PID, tr(node.id, pid), `${where}: PID as gpid`);
            else if (col === '%MEM') {
              const want = (Number(g.RES) * 100) / memTotal;
              t.ok(
                Math.abs(Number(g['%MEM']) - want) <= 0.1,
                `${where}: %MEM ${g['%MEM']} = RES ${g.RES} of the cluster's ${memTotal} kB`,
              );
            } else
              t.ok(
                between(g[col], wa[col], wb[col]),
                `${where}: ${col} ${JSON.stringify(g[col])} (node: ${JSON.stringify(wa[col])}, ${JSON.stringify(wb[col])})`,
              );
          }
          compared++;
        }
        t.equal(compared, QUIET.length, `node ${node.id}: every fixture compared`);
      }
    });
  }

  for (const [who, user] of [
    ['root', []],
    ['nobody', asUser()],
  ] as const)
    t.test(
      `htop in a terminal as ${who}: main, tree and I/O views${who === 'root' ? ', a Files tab, and k on a remote process' : ''}`,
      async (t) => {
        const tmux = new Tmux(join(cluster.dir, `tmux-${who}.sock`));
        t.teardown(() => tmux.stop());
        const home = join(cluster.dir, `htop-home-${who}`);
        mkdirSync(join(home, '.config', 'htop'), { recursive: true });
        const htoprc = join(home, '.config', 'htop', 'htoprc');
        writeFileSync(htoprc, HTOPRC);
        chmodSync(htoprc, 0o644);
        const env = ['env', `HOME=${home}`, 'TERM=xterm', 'LC_ALL=C.UTF-8'];
        // One htop in each node, shown only the fixtures (-p), and one over the view.
        const pids = (n: TestNode) => QUIET.map((f) => n.fixtures![f]);
        for (const n of cluster.nodes)
          tmux.start(`n${n.id}`, nodeArgv(n, [...user], [...env, 'htop', '-p', pids(n).join(',')]));
        tmux.start('view', viewArgv(mp, [...user], [...env, 'htop']));

        /** Screen `screen` of every session, once each shows what `ready` asks. */
        const screens = async (
          what: string,
          ready: (name: string, rows: Map<string, Row>) => boolean,
        ) =>
          waitFor(
            what,
            () => {
              const out = new Map<string, Map<string, Row>>();
              for (const name of tmux.names) {
                const rows = htopRows(tmux.capture(name));
                if (!rows || !ready(name, rows)) return undefined;
                out.set(name, rows);
              }
              return out;
            },
            20000,
          ).catch((err: Error) => {
            // What each terminal showed, to see why.
            for (const name of tmux.names) t.comment(`${name}:\n${tmux.capture(name)}`);
            throw err;
          });
        /**
         * Waits until every htop has refreshed twice since now (each refresh draws its Uptime
         * meter anew): a key redraws at once with the figures of before, the next refresh reads
         * what the tab now shown needs (its IO priority, io, smaps), the one after is whole.
         */
        const twoRefreshes = () =>
          Promise.all(
            tmux.names.map((name) => {
              // "Uptime: 00:09:54", or "Uptime: 1 day, 00:09:54" past a day: up to the seconds.
              const uptime = () => /Uptime: (.*?\d+:\d\d:\d\d)/.exec(tmux.capture(name))?.[1];
              let last = uptime();
              let seen = 0;
              return waitFor(
                `two refreshes of ${name}`,
                () => {
                  const now = uptime();
                  if (now !== last) [last, seen] = [now, seen + 1];
                  return seen >= 2 || undefined;
                },
                20000,
              ).catch((err: Error) => {
                // What the terminal showed, and where its node's processes were waiting.
                t.comment(`${name} (${seen} refreshes seen):\n${tmux.capture(name)}`);
                const n = cluster.nodes.find((x) => `n${x.id}` === name);
                if (n) {
                  const [cmd, ...args] = nodeArgv(
                    n,
                    [],
                    ['ps', '-eo', 'pid,stat,wchan:32,etime,args'],
                  );
                  const ps = spawnSync(cmd, args, { encoding: 'utf8' });
                  t.comment(`${name}'s processes:\n${ps.stdout}${ps.stderr}`);
                }
                throw err;
              });
            }),
          );
        const rowOf = (rows: Map<string, Row>, n: TestNode, f: (typeof QUIET)[number]) =>
          rows.get(tr(n.id, String(n.fixtures![f])));
        /** Every session lists its fixtures; the view every node's. */
        const listsAll = (name: string, rows: Map<string, Row>, filled: (r: Row) => boolean) =>
          cluster.nodes.every(
            (n) =>
              (name !== 'view' && name !== `n${n.id}`) ||
              QUIET.every((f) => {
                const r = name === 'view' ? rowOf(rows, n, f) : rows.get(String(n.fixtures![f]));
                return r !== undefined && filled(r);
              }),
          );

        const compare = (
          screen: string,
          first: Map<string, Map<string, Row>>,
          second: Map<string, Map<string, Row>>,
          check: (col: string, g: Row, a: Row, b: Row, n: TestNode, where: string) => boolean,
        ) => {
          for (const n of cluster.nodes) {
            for (const f of QUIET) {
              const pid = String(n.fixtures![f]);
              const [a, b] = [first.get(`n${n.id}`)!.get(pid)!, second.get(`n${n.id}`)!.get(pid)!];
              const g = rowOf(second.get('view')!, n, f)!;
              const where = `${screen}: node ${n.id} ${f} (${pid})`;
              for (const col of Object.keys(a)) {
                if (col === 'Command') {
                  // Cut at the screen's width, which the wider PID columns reach sooner.
                  t.ok(
                    g.Command === a.Command ||
                      (g.Command.length >= 10 && a.Command.startsWith(g.Command)),
                    `${where} Command ${JSON.stringify(g.Command)} begins the node's`,
                  );
                  continue;
                }
                if (!check(col, g, a, b, n, `${where} ${col}`))
                  t.ok(
                    between(g[col], a[col], b[col]),
                    `${where} ${col} ${JSON.stringify(g[col])} (node: ${JSON.stringify(a[col])}, ${JSON.stringify(b[col])})`,
                  );
              }
            }
          }
        };

        // Main: every column of the fixtures, PIDs, parents and CPUs translated.
        const mainReady = (name: string, rows: Map<string, Row>) =>
          listsAll(name, rows, (r) => r.USER === 'root' && r.PPID !== undefined);
        const main1 = await screens('htop main views', mainReady);
        const main2 = await screens('htop main views again', mainReady);
        compare('Main', main1, main2, (col, g, a, b, n, where) => {
          if (col === 'PID' || col === 'PPID') {
            t.equal(g[col], a[col] === '0' ? '1' : tr(n.id, a[col]), `${where} as gpid`);
            return true;
          }
          if (col === 'CPU') {
            t.ok(
              [a, b].some((r) => cpuOf(n.id, r.CPU) === g.CPU),
              `${where} ${g.CPU} numbered as the cluster's`,
            );
            return true;
          }
          if (col === 'MEM%') {
            t.ok(
              Math.abs(Number(g['MEM%']) - (Number(g.RES) * 100) / memTotal) <= 0.1,
              `${where} ${g['MEM%']}: RES ${g.RES} of the cluster's ${memTotal} kB`,
            );
            return true;
          }
          return false;
        });

        // Tree view (t): the cluster root, each node's init under it, the fixtures under those.
        tmux.keys('view', 't');
        const tree = await waitFor(
          'htop tree view',
          () => {
            const screen = tmux.capture('view');
            return /^\s*1\s+0\s+root\s.*\scluster\s*$/m.test(screen) && /├─/.test(screen)
              ? screen
              : undefined;
          },
          20000,
        );
        // Every column ends where it ends on the cluster root's line: its command, "cluster",
        // starts at depth 0; each level of the tree adds three characters ("├─ ", "│  ").
        const lines = tree.split('\n');
        const rootLine = lines.find((l) => /^\s*1\s+0\s+root\s.*\scluster\s*$/.test(l))!;
        const commandAt = rootLine.lastIndexOf('cluster');
        const depth = (gpid: number) => {
          const line = lines.find((l) => l.trim().startsWith(`${gpid} `));
          if (line === undefined) return -1;
          return /^[│├└─ ]*/u.exec(line.slice(commandAt))![0].length / 3;
        };
        for (const n of cluster.nodes) {
          t.equal(depth(encodeGpid(n.id, 1)), 1, `tree: node ${n.id}'s init under the cluster`);
          for (const f of ['hostile', 'zombie_parent', 'bigcmd', 'threads'] as const)
            t.equal(
              depth(encodeGpid(n.id, n.fixtures![f])),
              2,
              `tree: node ${n.id} ${f} under its init`,
            );
          t.equal(
            depth(encodeGpid(n.id, n.fixtures!.zombie)),
            3,
            `tree: node ${n.id}'s zombie under its parent`,
          );
        }
        tmux.keys('view', 't');

        // I/O tab, then the Files tab (OOM, PSS, I/O counters, autogroup, cwd, exe).
        for (const name of tmux.names) tmux.keys(name, 'Tab');
        await twoRefreshes();
        // (N/A where io is not readable: another user's process, as nobody, in the node too.)
        const ioReady = (name: string, rows: Map<string, Row>) =>
          listsAll(name, rows, (r) => r['DISK R/W'] !== undefined);
        const io1 = await screens('htop I/O views', ioReady);
        const io2 = await screens('htop I/O views again', ioReady);
        compare('I/O', io1, io2, (col, g, a, _b, n, where) => {
          if (col === 'PID') {
            t.equal(g.PID, tr(n.id, a.PID), `${where} as gpid`);
            return true;
          }
          if (col === 'IO') {
            t.equal(g.IO, '??', `${where}: ?? (ioprio_get(2) on a gpid: deviation; node: ${a.IO})`);
            return true;
          }
          if (col === 'SWPD%' || col === 'IOD%') {
            t.equal(
              g[col],
              'N/A',
              `${where}: N/A (taskstats of a gpid: deviation; node: ${a[col]})`,
            );
            return true;
          }
          return false;
        });
        // As nobody, the Files tab would show what files.test.ts compares file by file (smaps
        // and io refused for root's processes on both sides; exe and cwd served by the view, a
        // documented deviation); and nobody may not signal root's processes.
        if (who !== 'root') return;
        for (const name of tmux.names) tmux.keys(name, 'Tab');
        await twoRefreshes();
        // PSS is read every other refresh: wait until every live fixture has one.
        const filesReady = (name: string, rows: Map<string, Row>) =>
          listsAll(name, rows, (r) => r.OOM !== undefined && (r.PSS !== '0' || r.CWD === 'N/A'));
        const files1 = await screens('htop Files views', filesReady);
        const files2 = await screens('htop Files views again', filesReady);
        compare('Files', files1, files2, (col, g, a, _b, n, where) => {
          if (col === 'PID') {
            t.equal(g.PID, tr(n.id, a.PID), `${where} as gpid`);
            return true;
          }
          if (col === 'PSS') {
            const w = Number(a.PSS);
            t.ok(Math.abs(Number(g.PSS) - w) <= w * 0.1, `${where} ${g.PSS} ~ ${w} (within 10%)`);
            return true;
          }
          return false;
        });
        t.ok(
          cluster.nodes.every((n) => rowOf(files2.get('view')!, n, 'bigcmd')!.AGRP !== '0'),
          'autogroups are read (sys/kernel/sched_autogroup_enabled is served)',
        );
        for (const name of tmux.names) tmux.keys(name, 'Tab');

        // k on a remote process: found with htop's search, SIGTERM (htop's default), Enter.
        const node = cluster.node(2);
        const start = nodeArgv(
          node,
          [],
          ['sh', '-c', 'sleep 1004 </dev/null >/dev/null 2>&1 & echo $!'],
        );
        const pid = Number(spawnSync(start[0], start.slice(1), { encoding: 'utf8' }).stdout.trim());
        const gpid = encodeGpid(2, pid);
        const alive = () => existsSync(`${node.procRoot}/${pid}`);
        t.ok(alive(), `sleep 1004 runs on node 2 as ${pid}`);
        await waitFor(
          'htop to list it',
          () => new RegExp(`^\\s*${gpid}\\s.*\\ssleep 1004\\s*$`, 'm').test(tmux.capture('view')),
          20000,
        );
        tmux.keys('view', 'F3');
        tmux.type('view', 'sleep 1004');
        await waitFor(
          'the search to select it',
          () => /Search: sleep 1004/.test(tmux.capture('view')) || undefined,
          10000,
        );
        tmux.keys('view', 'Enter');
        tmux.keys('view', 'k');
        await waitFor(
          'the signal menu',
          () => /15 SIGTERM/.test(tmux.capture('view')) || undefined,
          10000,
        );
        tmux.keys('view', 'Enter');
        await waitFor('sleep 1004 to end on node 2', () => !alive() || undefined, 10000);
        t.notOk(alive(), `k in htop ended gpid ${gpid} on node 2`);
      },
    );
});

/** htop's configuration: its default Main and I/O tabs plus a Files tab, every tab by PID. */
const HTOPRC = `htop_version=3.2.2
config_reader_min_version=3
fields=0 48 17 18 38 39 40 2 46 47 49 1
hide_kernel_threads=1
hide_userland_threads=1
show_program_path=0
highlight_changes=0
screen_tabs=1
delay=10
enable_mouse=0
header_layout=two_50_50
column_meters_0=AllCPUs Memory Swap
column_meter_modes_0=1 1 1
column_meters_1=Tasks LoadAverage Uptime
column_meter_modes_1=2 2 2
screen:Main=PID PPID USER PRIORITY NICE M_VIRT M_RESIDENT M_SHARE STATE PERCENT_CPU PERCENT_MEM TIME NLWP PROCESSOR Command
.sort_key=PID
.tree_sort_key=PID
.tree_view=0
.sort_direction=1
.tree_sort_direction=1
screen:I/O=PID USER IO_PRIORITY IO_RATE IO_READ_RATE IO_WRITE_RATE PERCENT_SWAP_DELAY PERCENT_IO_DELAY Command
.sort_key=PID
.tree_sort_key=PID
.tree_view=0
.sort_direction=1
.tree_sort_direction=1
screen:Files=PID OOM M_PSS M_SWAP RCHAR WCHAR SYSCR SYSCW RBYTES WBYTES CNCLWB AUTOGROUP_ID CWD EXE Command
.sort_key=PID
.tree_sort_key=PID
.tree_view=0
.sort_direction=1
.tree_sort_direction=1
`;

/** htop's header names as one token each (some hold a space, some run into the next). */
const HTOP_HEADER: [RegExp, string][] = [
  [/DISK R\/W/, 'DISK_RW'],
  [/DISK READ/, 'DISK_READ'],
  [/DISK WRITE/, 'DISK_WRITE'],
  [/AGRPCWD/, 'AGRP CWD'],
  [/PID[△▽+-]/u, 'PID '],
];

/**
 * The process rows of an htop screen by PID, columns by header (the command last), or
 * undefined before htop drew its header. A rate "0.00 B/s" is one value.
 */
function htopRows(screen: string): Map<string, Row> | undefined {
  const lines = screen.split('\n');
  const at = lines.findIndex((l) => /^\s*PID\b/.test(l));
  if (at < 0) return undefined;
  let header = lines[at];
  for (const [re, to] of HTOP_HEADER) header = header.replace(re, to);
  const cols = header
    .trim()
    .split(/\s+/)
    .map(
      (c) => ({ DISK_RW: 'DISK R/W', DISK_READ: 'DISK READ', DISK_WRITE: 'DISK WRITE' })[c] ?? c,
    );
  const rows = new Map<string, Row>();
  for (const line of lines.slice(at + 1)) {
    const tokens = line
      .replace(/(\d) ([KMGT]?i?B?\/s)/g, '$1$2')
      .trim()
      .split(/\s+/);
    if (!/^\d+$/.test(tokens[0])) continue;
    const row: Row = {};
    cols.slice(0, -1).forEach((c, i) => (row[c] = tokens[i]));
    row.Command = tokens.slice(cols.length - 1).join(' ');
    rows.set(row.PID, row);
  }
  return rows;
}

/** tmux sessions on a private server (listening on `socket`), each 200x50. */
class Tmux {
  readonly names: string[] = [];
  constructor(private readonly socket: string) {}
  private tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 10000 });
    if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
    return r.stdout;
  }
  /** Starts `argv` in a new session `name`. */
  start(name: string, argv: string[]): void {
    const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    this.tmux(['new-session', '-d', '-x', '200', '-y', '50', '-s', name, quoted]);
    this.names.push(name);
  }
  /** The screen of session `name`, as text. */
  capture(name: string): string {
    return this.tmux(['capture-pane', '-p', '-t', name]);
  }
  /** Presses keys (tmux key names: Tab, Enter, F3). */
  keys(name: string, ...keys: string[]): void {
    this.tmux(['send-keys', '-t', name, ...keys]);
  }
  /** Types text literally. */
  type(name: string, text: string): void {
    this.tmux(['send-keys', '-t', name, '-l', text]);
  }
  stop(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { timeout: 10000 });
  }
}
