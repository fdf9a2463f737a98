// The pinned-content rule of the kernel-cached view (src/fs/pinned.ts), without a mount.
import t from 'tap';
import { defaults } from '../../src/defaults';
import { PinnedContent } from '../../src/fs/pinned';

const b = (s: string) => Buffer.from(s);
const SLACK = defaults.pinnedSlackBytes;

t.test('content the kernel holds is reported exactly; any other with a slack', async (t) => {
  const p = new PinnedContent();
  t.equal(
    p.pin('/x', b('one\n')),
    4 + SLACK,
    'never read: the slack, so a read is never cut short',
  );
  t.same(p.read('/x'), b('one\n'), 'reads serve the pinned content');
  t.equal(
    p.pin('/x', b('one\n')),
    4,
    'unchanged since the kernel read it: exact, its pages stay valid',
  );
  const changed = p.pin('/x', b('three\n'));
  t.ok(changed >= 6 + SLACK, `changed: at least its length plus the slack (${changed})`);
  t.not(
    p.pin('/x', b('three\n')),
    changed,
    'pinned again before a read: another size, so the kernel cannot keep a stale one',
  );
});

t.test('a reader whose getattr saw older content still reads newer content whole', async (t) => {
  // Reader A's getattr, then reader B's getattr pins longer content, then A's read.
  const p = new PinnedContent();
  const sizeA = p.pin('/s', b('1 (sleep) S 1\n'));
  p.pin('/s', b('1 (sleep) S 1 2 3 4 5 6 7 8 9 10\n'));
  const served = p.read('/s')!;
  t.ok(
    served.length <= sizeA,
    `the kernel lets A read up to ${sizeA} bytes: all ${served.length} of the newer content`,
  );
  t.ok(served.toString().endsWith('\n'), 'whole, with its end');
});

t.test('prune forgets what the table no longer has', async (t) => {
  const p = new PinnedContent();
  p.pin('/a', b('a'));
  p.pin('/b', b('b'));
  p.prune((path) => path === '/a');
  t.same(p.read('/a'), b('a'));
  t.equal(p.read('/b'), undefined);
});
