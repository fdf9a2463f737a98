// What a group signal's result means (src/cluster/signal.ts groupFailures), which both
// `<gpid>/ctl` and `gproc kill -g` report: want/have per result. No root, no FUSE.
import t from 'tap';
import { groupFailures, type GroupResult } from '../../src/cluster/signal';

const result = (r: Partial<GroupResult>): GroupResult => ({
  delivered: [],
  gone: [],
  refused: [],
  unreachable: [],
  down: [],
  ...r,
});

const cases: { what: string; have: GroupResult; want: unknown[] }[] = [
  { what: 'delivered to every member', have: result({ delivered: [11, 12] }), want: [] },
  {
    what: 'members gone meanwhile are no failure',
    have: result({ delivered: [11], gone: [12] }),
    want: [],
  },
  {
    what: 'a down node is a note, not a failure',
    have: result({ delivered: [11], down: [3] }),
    want: [],
  },
  { what: 'no member left', have: result({ gone: [11, 12] }), want: [{ kind: 'empty' }] },
  { what: 'no member at all', have: result({}), want: [{ kind: 'empty' }] },
  {
    what: 'refused members, each',
    have: result({ delivered: [11], refused: [12, 13] }),
    want: [
      { kind: 'refused', gpid: 12 },
      { kind: 'refused', gpid: 13 },
    ],
  },
  {
    what: 'nodes that did not answer come first',
    have: result({ refused: [12], unreachable: [2, 3] }),
    want: [
      { kind: 'unreachable', node: 2 },
      { kind: 'unreachable', node: 3 },
      { kind: 'refused', gpid: 12 },
    ],
  },
];

t.test('groupFailures: want/have per result', async (t) => {
  for (const { what, have, want } of cases) t.same(groupFailures(have), want, what);
});
