// Path resolution of the cluster view (src/fs/tree.ts resolvePath) over a hand-built table
// of the fixture tree: what each path is, its mode and owner, and what reading it gives.
// No root, no FUSE: the owning agent of on-demand files is a stand-in that records calls.
import t from 'tap';
import { constants, readFileSync } from 'node:fs';
import type { Cluster } from '../../src/cluster/cluster';
import { E, FsError } from '../../src/fs/errno';
import { CachedView } from '../../src/fs/cached-view';
import { resolvePath, type Resolved, type TreeContext } from '../../src/fs/tree';
import { encodeGpid as g } from '../../src/gpid';
import { createLogger } from '../../src/log';
import { config, down, FIXTURE, snapshot, table } from '../helpers/tables';

const { S_IFDIR, S_IFREG, S_IFLNK } = constants;
const CONTROL = '/run/gproc-control';

// Node 1 up, its processes owned by root but 6551 by uid 1000, and the exit status of pid 4242 held; node 2 down.
const one = snapshot(1, {
  ended: [{ pid: 4242, starttime: 77, status: { outcome: 'code', code: 0 }, uid: 1000 }],
});
// Owners are set here, not taken from whoever owns the checked-out fixture files.
for (const p of one.processes)
  Object.assign(p, p.pid === 6551 ? { uid: 1000, gid: 1000 } : { uid: 0, gid: 0 });
const tab = table({ config: config(1), snapshot: one }, down(2));

const calls: unknown[][] = [];
const client = {
  // The owning agent's answer to ReadProcessFile: io made up, limits the fixture's.
  readFile: (...args: unknown[]) => (
    calls.push(args),
    Promise.resolve(args[1] === 'LIMITS' ? fixture('6551/limits') : Buffer.from('rchar: 1\n'))
  ),
  // ReadProcessLinks: one answer per set; a kernel thread's exe fails with ENOENT there.
  readLinks: (...args: unknown[]) => (
    calls.push(args),
    Promise.resolve(
      {
        LINKS: [
          { name: 'exe', target: Buffer.alloc(0), error: 'ENOENT' },
          { name: 'cwd', target: Buffer.from('/srv/n1'), error: '' },
          { name: 'root', target: Buffer.from('/'), error: '' },
        ],
        FD: [
          { name: '0', target: Buffer.from('/dev/null'), error: '' },
          { name: '3', target: Buffer.from('anon_inode:[pidfd]'), error: '' },
        ],
        NS: [{ name: 'pid', target: Buffer.from('pid:[4026531836]'), error: '' }],
      }[args[1] as string],
    )
  ),
  // fdinfo of a pidfd: Pid and the first NSpid are the node's PIDs.
  readFdinfo: (...args: unknown[]) => (
    calls.push(args),
    Promise.resolve(Buffer.from('pos:\t0\nflags:\t02000002\nPid:\t700\nNSpid:\t700\t1\n'))
  ),
};
const ctx: TreeContext = {
  cluster: { clients: new Map([[1, client]]) } as unknown as Cluster,
  table: tab,
  hostProc: FIXTURE,
  controlMount: CONTROL,
  localNode: 1,
  log: createLogger('test', {}, 'silent'),
  memo: new Map(),
};

const hostile = g(1, 6551);
const worker = g(1, 800);

/** What a path is, as a row: type, mode, uid, and the entries, target or content. */
async function have(path: string): Promise<unknown[]> {
  let r: Resolved;
  try {
    r = resolvePath(path, ctx);
  } catch (err) {
    return [err instanceof FsError ? `errno ${err.errno}` : String(err)];
  }
  const head = [r.type, r.attr.mode, r.attr.uid];
  if (r.type === 'dir') return [...head, await r.entries()];
  if (r.type === 'link') {
    try {
      return [...head, await r.target()];
    } catch (err) {
      return [err instanceof FsError ? `link-errno ${err.errno}` : String(err)];
    }
  }
  try {
    return [...head, r.file.read ? (await r.file.read()).toString('latin1') : 'unreadable'];
  } catch (err) {
    return [...head, err instanceof FsError ? `errno ${err.errno}` : String(err)];
  }
}

const fixture = (path: string) => readFileSync(`${FIXTURE}/${path}`, 'latin1');
const DIR = S_IFDIR | 0o555;
const R = S_IFREG | 0o444;
const OWNER = S_IFREG | 0o400;
const LINK = S_IFLNK | 0o777;
const PER_PROCESS = [
  'stat',
  'status',
  'statm',
  'cmdline',
  'comm',
  'environ',
  'cgroup',
  'io',
  'limits',
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

const cases: { path: string; want: unknown[] }[] = [
  {
    path: '/',
    want: [
      'dir',
      DIR,
      0,
      [
        'stat',
        'uptime',
        'meminfo',
        'loadavg',
        'cpuinfo',
        'sys',
        'nodes',
        'events',
        'self',
        '1',
        ...[1, 2, 700, 800, 6551].map((p) => String(g(1, p))),
      ],
    ],
  },
  // The cluster's root: the files tools read, io all zeros, no limits (no node holds it).
  {
    path: '/1',
    want: [
      'dir',
      DIR,
      0,
      ['stat', 'status', 'statm', 'cmdline', 'comm', 'environ', 'cgroup', 'task', 'ctl', 'io'],
    ],
  },
  {
    path: `/${hostile}`,
    want: [
      'dir',
      DIR,
      1000,
      [
        ...PER_PROCESS,
        'task',
        ...['exe', 'cwd', 'root', 'fd', 'fdinfo', 'ns'],
        'ctl',
        'wait',
        'node',
        'usage',
      ],
    ],
  },
  // Files of mode 0400 link to the same file under .started/<starttime>/: a descriptor held
  // on it reads ESRCH once the gpid is another process's.
  { path: `/${hostile}/environ`, want: ['link', LINK, 1000, '.started/131026/environ'] },
  {
    path: `/${hostile}/.started/131026/environ`,
    want: ['file', OWNER, 1000, fixture('6551/environ')],
  },
  {
    path: `/${hostile}/.started/131026`,
    want: ['dir', DIR, 1000, ['environ', 'io', 'smaps_rollup', 'smaps', 'maps', 'wchan']],
  },
  { path: `/${hostile}/.started`, want: ['dir', DIR, 1000, []] },
  { path: `/${hostile}/.started/131025/environ`, want: [`errno ${E.ESRCH}`] },
  { path: `/${hostile}/.started/131026/stat`, want: [`errno ${E.ENOENT}`] },
  { path: `/${hostile}/.started/0131026/environ`, want: [`errno ${E.ENOENT}`] },
  { path: `/${hostile}/exe`, want: [`link-errno ${E.ENOENT}`] },
  { path: `/${hostile}/cwd`, want: ['link', LINK, 1000, '/srv/n1'] },
  { path: `/${hostile}/fd`, want: ['dir', S_IFDIR | 0o500, 1000, ['0', '3']] },
  { path: `/${hostile}/fd/3`, want: ['link', LINK, 1000, 'anon_inode:[pidfd]'] },
  { path: `/${hostile}/fd/4`, want: [`link-errno ${E.ENOENT}`] },
  { path: `/${hostile}/fd/03`, want: [`errno ${E.ENOENT}`] },
  { path: `/${hostile}/fdinfo`, want: ['dir', S_IFDIR | 0o500, 1000, ['0', '3']] },
  {
    path: `/${hostile}/fdinfo/3`,
    want: [
      'file',
      R,
      1000,
      `pos:\t0\nflags:\t02000002\nPid:\t${g(1, 700)}\nNSpid:\t${g(1, 700)}\t1\n`,
    ],
  },
  { path: `/${hostile}/ns/pid`, want: ['link', LINK, 1000, 'pid:[4026531836]'] },
  { path: `/${hostile}/limits`, want: ['file', R, 1000, fixture('6551/limits')] },
  { path: `/${hostile}/statm`, want: ['file', R, 1000, fixture('6551/statm')] },
  { path: `/${hostile}/comm`, want: ['file', R, 1000, 'x) (y\nz w\n'] },
  { path: `/${hostile}/io`, want: ['link', LINK, 1000, '.started/131026/io'] },
  { path: `/${hostile}/.started/131026/io`, want: ['file', OWNER, 1000, 'rchar: 1\n'] },
  { path: `/${hostile}/node`, want: ['file', R, 1000, '1 n1\n'] },
  {
    path: `/${hostile}/ctl`,
    want: ['link', LINK, 1000, `${CONTROL}/processes/${hostile}-131026/ctl`],
  },
  {
    path: `/${hostile}/wait`,
    want: ['link', LINK, 1000, `${CONTROL}/processes/${hostile}-131026/wait`],
  },
  { path: `/${hostile}/task`, want: ['dir', DIR, 1000, [String(hostile)]] },
  { path: `/${worker}/task`, want: ['dir', DIR, 0, [800, 801, 802].map((p) => String(g(1, p)))] },
  {
    path: `/${worker}/task/${g(1, 801)}`,
    want: [
      'dir',
      DIR,
      0,
      [
        'stat',
        'status',
        'statm',
        'cmdline',
        'comm',
        'io',
        'schedstat',
        'wchan',
        'exe',
        'cwd',
        'root',
      ],
    ],
  },
  { path: `/${worker}/task/${g(1, 801)}/statm`, want: ['file', R, 0, fixture('800/statm')] },
  { path: `/${worker}/task/${g(1, 801)}/environ`, want: [`errno ${E.ENOENT}`] },
  { path: `/${worker}/task/${g(1, 803)}`, want: [`errno ${E.ENOENT}`] },
  { path: `/${worker}/task/${g(2, 801)}`, want: [`errno ${E.ENOENT}`] },
  { path: `/${hostile}/stat/x`, want: [`errno ${E.ENOTDIR}`] },
  { path: `/${hostile}/nope`, want: [`errno ${E.ENOENT}`] },
  { path: `/${g(1, 4242)}`, want: ['dir', DIR, 0, ['wait']] },
  {
    path: `/${g(1, 4242)}/wait`,
    want: ['link', LINK, 0, `${CONTROL}/processes/${g(1, 4242)}-77/wait`],
  },
  { path: `/${g(1, 12345)}`, want: [`errno ${E.ENOENT}`] },
  { path: `/${g(2, 1)}`, want: [`errno ${E.EHOSTDOWN}`] },
  { path: `/${g(2, 1)}/stat`, want: [`errno ${E.EHOSTDOWN}`] },
  { path: '/nodes', want: ['dir', DIR, 0, ['1', '2']] },
  {
    path: '/nodes/1',
    want: [
      'dir',
      DIR,
      0,
      ['name', 'address', 'state', 'age', 'uptime', 'meminfo', 'loadavg', 'spawn'],
    ],
  },
  { path: '/nodes/1/state', want: ['file', R, 0, 'up\n'] },
  { path: '/nodes/1/uptime', want: ['file', R, 0, fixture('uptime')] },
  { path: '/nodes/2/state', want: ['file', R, 0, 'down\n'] },
  { path: '/nodes/2/uptime', want: ['file', R, 0, `errno ${E.EHOSTDOWN}`] },
  { path: '/nodes/2/spawn', want: ['link', LINK, 0, `${CONTROL}/nodes/2/spawn`] },
  { path: '/nodes/3', want: [`errno ${E.ENOENT}`] },
  { path: '/nodes/01', want: [`errno ${E.ENOENT}`] },
  { path: '/events', want: ['link', LINK, 0, `${CONTROL}/events`] },
  { path: '/self', want: ['link', LINK, 0, `${FIXTURE}/self`] },
  { path: '/sys/kernel/pid_max', want: ['file', R, 0, '2147483647\n'] },
  { path: '/sys/kernel/osrelease', want: ['file', R, 0, fixture('sys/kernel/osrelease')] },
  {
    path: '/sys/kernel/sched_autogroup_enabled',
    want: ['file', R, 0, fixture('sys/kernel/sched_autogroup_enabled')],
  },
  // Local PIDs and other names of the real /proc: links into it, when they exist there.
  { path: '/800', want: ['link', LINK, 0, `${FIXTURE}/800`] },
  { path: '/801', want: [`errno ${E.ENOENT}`] },
  { path: '/0800', want: [`errno ${E.ENOENT}`] },
  { path: `/${g(1, 800) + 0}x`, want: [`errno ${E.ENOENT}`] },
];

t.test('resolvePath: want/have per path', async (t) => {
  for (const { path, want } of cases) t.same(await have(path), want, path);
  t.same(
    calls,
    [
      [{ pid: 6551, starttime: 131026 }, 'LINKS'],
      [{ pid: 6551, starttime: 131026 }, 'FD'],
      [{ pid: 6551, starttime: 131026 }, 3],
      [{ pid: 6551, starttime: 131026 }, 'NS'],
      [{ pid: 6551, starttime: 131026 }, 'LIMITS', undefined],
      [{ pid: 6551, starttime: 131026 }, 'IO', undefined],
    ],
    'asked of the owning agent: each link set once (exe, cwd; fd/ listed, looked up; fdinfo/ listed), fdinfo/3, limits, io',
  );
});

t.test('what ps -ef and ls -l <gpid>/ touch asks no agent', async (t) => {
  calls.length = 0;
  const view = new CachedView({
    cluster: {
      clients: new Map([[1, client]]),
      fresh: () => tab,
      refresh: () => Promise.resolve(tab),
    } as unknown as Cluster,
    hostProc: FIXTURE,
    controlMount: CONTROL,
    localNode: 1,
    log: createLogger('test', {}, 'silent'),
  }).ops();
  const op = (name: 'getattr' | 'readdir', path: string) =>
    new Promise<number>((done) => view[name](path, (err: number) => done(err)));
  // ps -ef: the root listing, then each process's directory, stat, status and cmdline;
  // `ls -l <gpid>/`: its listing and an lstat of every entry but the on-demand files.
  const paths = [
    '/',
    `/${hostile}`,
    ...['stat', 'status', 'cmdline'].map((f) => `/${hostile}/${f}`),
  ];
  for (const p of paths) t.equal(await op('getattr', p), 0, `getattr ${p}`);
  t.equal(await op('readdir', '/'), 0);
  t.equal(await op('readdir', `/${hostile}`), 0);
  for (const name of ['exe', 'cwd', 'root', 'fd', 'fdinfo', 'ns', 'task'])
    t.equal(await op('getattr', `/${hostile}/${name}`), 0, `lstat ${name}`);
  t.same(calls, [], 'no agent call');
});
