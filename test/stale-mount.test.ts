// Table tests of the pure parts of clearing stale mounts (no root needed): mountinfo from a
// fixture, the FUSE connection number of a mount, daemon records, and how a recorded
// daemon's /proc state is judged.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyState,
  fuseConnection,
  isGprocFuse,
  mountsAt,
  parseDaemonRecord,
  parseMountinfo,
} from '../src/fs/stale-mount';

const MOUNTINFO = readFileSync(join(__dirname, 'fixtures', 'mountinfo'), 'utf8');

t.test('mountinfo: every line, optional fields and escapes', async (t) => {
  const entries = parseMountinfo(MOUNTINFO);
  t.equal(entries.length, 11);
  t.match(entries[0], {
    mountId: 21,
    parentId: 26,
    major: 0,
    minor: 20,
    root: '/',
    mountPoint: '/proc',
    fsType: 'proc',
    source: 'proc',
  });
  t.match(
    entries.find((e) => e.mountId === 120),
    { mountPoint: '/tmp/with space\ttab', fsType: 'fuse.sshfs', source: 'host:/x', minor: 300 },
  );
  t.match(
    entries.find((e) => e.mountId === 121),
    { root: '/sub', mountPoint: '/mnt/back\\slash', fsType: 'fuse', source: 'gproc' },
    'several optional fields',
  );
  t.same(parseMountinfo('garbage\n\n1 2 3\n'), [], 'lines of another shape are skipped');
});

t.test(
  'mounts at a path, stacked, bottom first; gproc FUSE mounts; connection numbers',
  async (t) => {
    const entries = parseMountinfo(MOUNTINFO);
    const view = mountsAt(entries, '/cluster/proc');
    t.same(
      view.map((e) => e.mountId),
      [97, 101],
      'two stacked mounts at the view',
    );
    t.same(mountsAt(entries, '/cluster'), [], 'a prefix is no match');
    const table: [number, boolean, number | undefined][] = [
      [97, true, 52],
      [98, true, 53],
      [99, false, undefined],
      [120, false, 300],
      [121, true, 61],
      [122, false, undefined],
      [40, false, undefined],
    ];
    for (const [id, gproc, conn] of table) {
      const e = entries.find((x) => x.mountId === id)!;
      t.equal(isGprocFuse(e), gproc, `mount ${id} is gproc's: ${gproc}`);
      t.equal(fuseConnection(e), conn, `mount ${id}: connection ${conn}`);
    }
    t.equal(
      fuseConnection({ ...entries[4], major: 1, minor: 2 }),
      2 ** 20 + 2,
      'a non-zero major gives the kernel dev_t',
    );
  },
);

t.test('daemon records', async (t) => {
  t.same(parseDaemonRecord('1234 5678\n'), { pid: 1234, starttime: 5678 });
  t.same(parseDaemonRecord('1234 5678'), { pid: 1234, starttime: 5678 });
  for (const bad of ['', '\n', '0 5\n', '-1 5\n', '12\n', '12 x\n', '12 5 6\n', ' 12 5\n']) {
    t.equal(parseDaemonRecord(bad), undefined, JSON.stringify(bad));
  }
});

t.test('a recorded daemon is live, frozen or gone', async (t) => {
  const table: [{ state: string; starttime: number } | undefined, 'live' | 'frozen' | 'gone'][] = [
    [undefined, 'gone'],
    [{ state: 'S', starttime: 99 }, 'gone'], // another process has the pid now
    [{ state: 'S', starttime: 100 }, 'live'],
    [{ state: 'R', starttime: 100 }, 'live'],
    [{ state: 'D', starttime: 100 }, 'live'],
    [{ state: 'T', starttime: 100 }, 'frozen'],
    [{ state: 't', starttime: 100 }, 'frozen'],
    [{ state: 'Z', starttime: 100 }, 'gone'],
    [{ state: 'X', starttime: 100 }, 'gone'],
  ];
  for (const [p, want] of table) t.equal(classifyState(p, 100), want, JSON.stringify(p));
});
