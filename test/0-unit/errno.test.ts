// The one errno mapping of the cluster view (src/fs/errno.ts toErrno): want/have per
// error. No root, no FUSE.
import t from 'tap';
import { status } from '@grpc/grpc-js';
import { E, FsError, toErrno, type NotFoundAs } from '../../src/fs/errno';
import { GpidError } from '../../src/gpid';
import { SignalError } from '../../src/signals';

const grpc = (code: number) => Object.assign(new Error(`grpc ${code}`), { code });

const cases: { error: unknown; as?: NotFoundAs; want: number; what: string }[] = [
  { what: 'FsError: its errno', error: new FsError(E.EHOSTDOWN, 'down'), want: -112 },
  { what: 'FsError ESRCH', error: new FsError(E.ESRCH, 'gone'), want: -E.ESRCH },
  { what: 'malformed gpid', error: new GpidError('bad'), want: -E.EINVAL },
  { what: 'unknown signal', error: new SignalError('bad'), want: -E.EINVAL },
  { what: 'NOT_FOUND for a path', error: grpc(status.NOT_FOUND), want: -E.ENOENT },
  { what: 'NOT_FOUND for a signal', error: grpc(status.NOT_FOUND), as: 'ESRCH', want: -E.ESRCH },
  { what: 'INVALID_ARGUMENT', error: grpc(status.INVALID_ARGUMENT), want: -E.EINVAL },
  { what: 'PERMISSION_DENIED', error: grpc(status.PERMISSION_DENIED), want: -E.EACCES },
  { what: 'FAILED_PRECONDITION', error: grpc(status.FAILED_PRECONDITION), want: -E.ENOENT },
  { what: 'UNAVAILABLE', error: grpc(status.UNAVAILABLE), want: -E.EHOSTDOWN },
  { what: 'DEADLINE_EXCEEDED', error: grpc(status.DEADLINE_EXCEEDED), want: -E.EHOSTDOWN },
  { what: 'CANCELLED', error: grpc(status.CANCELLED), want: -E.EHOSTDOWN },
  { what: 'INTERNAL', error: grpc(status.INTERNAL), want: -E.EIO },
  { what: 'UNAUTHENTICATED', error: grpc(status.UNAUTHENTICATED), want: -E.EIO },
  { what: 'RESOURCE_EXHAUSTED', error: grpc(status.RESOURCE_EXHAUSTED), want: -E.EIO },
  { what: 'a plain Error', error: new Error('boom'), want: -E.EIO },
  { what: 'a string thrown', error: 'boom', want: -E.EIO },
  { what: 'undefined thrown', error: undefined, want: -E.EIO },
  {
    what: 'an fs error code is not a gRPC code',
    error: Object.assign(new Error(), { code: 'ENOENT' }),
    want: -E.EIO,
  },
];

t.test('toErrno: want/have per error', async (t) => {
  for (const { what, error, as, want } of cases) t.equal(toErrno(error, as), want, what);
  t.equal(E.EHOSTDOWN, 112, 'EHOSTDOWN, which Node does not list, is 112 on Linux');
});
