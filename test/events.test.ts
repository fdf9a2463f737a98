// The events file's buffer and reads, without a mount: readers that fall behind lose the
// oldest lines and are told how many (one `missed` line), never a line in the middle; a
// read of any size returns whole lines, or pieces of one line that end at its newline, so
// a reader that stops after its Nth newline never holds the start of the next line.
import t from 'tap';
import { EventHub } from '../src/cluster/events';
import type { Cluster } from '../src/cluster/cluster';
import { defaults } from '../src/defaults';
import { ControlView, ReadBuffer } from '../src/fs/control-view';
import { createLogger } from '../src/log';

const KEEP = defaults.eventsKeptLines;
const noNodes = { clients: new Map(), fresh: () => undefined } as unknown as Cluster;
const silent = createLogger('test', {}, 'silent');
const pushInto = (hub: EventHub) => (line: string) =>
  (hub as unknown as { push(line: string): void }).push(line);
const MISSED = /^\d{13} missed (\d+)\n$/;

t.test('cursors stay on their line across a trim of the buffer', async (t) => {
  const hub = new EventHub(noNodes, silent);
  const push = pushInto(hub);
  t.equal(hub.subscribe(), 0);
  for (let i = 0; i < 2 * KEEP; i++) push(`L${i}\n`); // 2 x KEEP lines: trimmed to the last KEEP
  t.same(
    await hub.next(KEEP + 7000, 3),
    { text: `L${KEEP + 7000}\n`, cursor: KEEP + 7001 },
    'a line longer than the read comes whole',
  );
  t.equal((await hub.next(2 * KEEP - 1, 100)).text, `L${2 * KEEP - 1}\n`, 'the newest line');
  t.equal(
    (await hub.next(KEEP, 7)).text,
    `L${KEEP}\n`,
    'a reader exactly KEEP behind lost nothing',
  );
  hub.close();
});

t.test(
  'a reader that fell behind gets one missed line with the count, then whole lines',
  async (t) => {
    const hub = new EventHub(noNodes, silent);
    const push = pushInto(hub);
    const slow = hub.subscribe();
    for (let i = 0; i < 2 * KEEP + 5; i++) push(`L${i}\n`);
    // Trimmed once at 2 x KEEP (to KEEP lines: L10000..), 5 more since: the slow reader missed KEEP.
    const first = await hub.next(slow, 64);
    const [marker, ...rest] = first.text.split(/(?<=\n)/);
    t.match(marker, MISSED, `the marker line: ${JSON.stringify(marker)}`);
    t.equal(Number(MISSED.exec(marker)![1]), KEEP, `it counts the ${KEEP} events dropped`);
    t.equal(rest[0], `L${KEEP}\n`, 'then the oldest kept event');
    let text = first.text;
    let cursor = first.cursor;
    while (cursor < 2 * KEEP + 5) {
      const n = await hub.next(cursor, 4096);
      text += n.text;
      cursor = n.cursor;
    }
    const lines = text.split('\n').slice(0, -1);
    t.equal(lines.filter((l) => / missed /.test(l)).length, 1, 'exactly one marker');
    t.same(
      lines.slice(1),
      Array.from({ length: KEEP + 5 }, (_, i) => `L${KEEP + i}`),
      'every kept event, in order, none twice',
    );
    hub.close();
  },
);

t.test('a read ends at a line end unless the line is longer than the read', async (t) => {
  const b = new ReadBuffer();
  b.append(Buffer.from('aaaa\nbbbbbbbbbb\ncc\n'));
  t.ok(b.seek(0));
  t.equal(b.take(8).toString(), 'aaaa\n', 'not the start of the next line');
  t.ok(b.seek(5));
  t.equal(b.take(4).toString(), 'bbbb', 'a line longer than the read: a piece');
  t.ok(b.seek(9));
  t.equal(b.take(20).toString(), 'bbbbbb\ncc\n', 'its rest ends at its newline; then whole lines');
  t.notOk(b.seek(19), 'nothing left');
});

/** The events file of a control view with no nodes, read through its FUSE operations. */
function eventsFile() {
  const view = new ControlView(noNodes, silent);
  const ops = view.ops();
  const push = pushInto((view as unknown as { events: EventHub }).events);
  const call = <T>(op: string, ...args: unknown[]) =>
    new Promise<T[]>((resolve) => ops[op](...args, (...r: T[]) => resolve(r)));
  return {
    push,
    close: () => view.close(),
    open: async () => {
      const [err, fh] = await call<number>('open', '/events', 0);
      if (err) throw new Error(`open: ${err}`);
      let pos = 0;
      return {
        /** One read of `len` bytes at the file position, as read(2) makes it. */
        read: async (len: number) => {
          const buf = Buffer.alloc(len);
          const [n] = await call<number>('read', '/events', fh, buf, len, pos);
          if (n < 0) throw new Error(`read: ${n}`);
          pos += n;
          return buf.subarray(0, n).toString('latin1');
        },
        release: () => call('release', '/events', fh),
      };
    },
  };
}

t.test('reads of 1..64 bytes see only whole lines', async (t) => {
  const file = eventsFile();
  const lines = Array.from(
    { length: 400 },
    (_, i) =>
      `${1700000000000 + i} ${i % 2 ? 'exit' : 'start'} ${4194304 + i} ${'x'.repeat(i % 90)}\n`,
  );
  let bad = 0;
  for (let size = 1; size <= 64; size++) {
    const f = await file.open();
    for (const l of lines) file.push(l);
    let text = '';
    for (let got = 0; got < lines.length;) {
      const piece = await f.read(size);
      // Whole lines, or a piece of one: a read that finishes a line stops there.
      if (
        piece.length === 0 ||
        piece.length > size ||
        (piece.includes('\n') && !piece.endsWith('\n'))
      )
        bad++;
      got += piece.split('\n').length - 1;
      text += piece;
    }
    if (text !== lines.join('')) bad++;
    await f.release();
  }
  t.equal(
    bad,
    0,
    '64 sizes x 400 lines: no read runs past the end of a line into the next, and the lines come whole, in order',
  );
  file.close();
});

t.test(
  "a reader that stops at its Nth newline holds no broken line (the spawn test's reader)",
  async (t) => {
    const file = eventsFile();
    const f = await file.open();
    // Events that arrive together are taken from the hub in one piece; 20-byte reads used to
    // run past the end of a line into the next, so the reader's last read held a broken line.
    for (let i = 0; i < 40; i++)
      file.push(`${1700000000000 + i} start ${4194304 + i} 4194305 sleepy\n`); // 43 bytes: 30 lines are no whole number of reads
    let text = '';
    while (text.split('\n').length - 1 < 30) text += await f.read(20);
    t.ok(text.endsWith('\n'), 'the read that brought the 30th newline ended with it');
    t.equal(text.split('\n').length - 1, 30);
    await f.release();
    file.close();
  },
);

t.test('through a control view, a slow reader gets one marker, then the kept events', async (t) => {
  const file = eventsFile();
  const f = await file.open();
  for (let i = 0; i < 2 * KEEP + 3; i++) file.push(`E${i}\n`);
  let text = '';
  while (!text.endsWith(`E${2 * KEEP + 2}\n`)) text += await f.read(64);
  const [marker, ...rest] = text.split('\n').slice(0, -1);
  t.match(`${marker}\n`, MISSED, 'the first line is the marker');
  t.equal(Number(MISSED.exec(`${marker}\n`)![1]), KEEP, 'with the count');
  t.same(
    rest,
    Array.from({ length: KEEP + 3 }, (_, i) => `E${KEEP + i}`),
    'then every kept event, whole',
  );
  await f.release();
  file.close();
});
