import t from 'tap';
import {
  decodeGpid,
  encodeGpid,
  formatGpid,
  GpidError,
  parseGpid,
  translatePid,
  PID_LIMIT,
} from '../src/gpid';

t.test('encode and decode follow spec section 1', async (t) => {
  t.equal(encodeGpid(1, 1234), 4195538, "node 1's pid 1234");
  t.equal(encodeGpid(3, 1), 12582913, "node 3's pid 1");
  t.same(decodeGpid(4195538), { node: 1, pid: 1234 });
  t.same(decodeGpid(12582913), { node: 3, pid: 1 });
  const max = encodeGpid(511, PID_LIMIT - 1);
  t.ok(max <= 2 ** 31 - 1, 'the largest gpid fits a signed 32-bit pid_t');
  t.same(decodeGpid(max), { node: 511, pid: PID_LIMIT - 1 });
});

t.test('range checks', async (t) => {
  t.throws(() => encodeGpid(0, 1), GpidError);
  t.throws(() => encodeGpid(512, 1), GpidError);
  t.throws(() => encodeGpid(1, 0), GpidError);
  t.throws(() => encodeGpid(1, PID_LIMIT), GpidError);
  t.throws(() => decodeGpid(1234), /not a global pid/);
  t.throws(() => decodeGpid(1), /1 is the cluster's root, not a process of any node/);
  t.throws(() => parseGpid('1'), /cluster's root/);
  t.throws(() => decodeGpid(PID_LIMIT * 2), /local pid 0/);
  t.throws(() => decodeGpid(1.5), GpidError);
});

t.test('0 and -1 are never translated', async (t) => {
  t.equal(translatePid(2, 0), 0);
  t.equal(translatePid(2, -1), -1);
  t.equal(translatePid(2, 7), 2 * PID_LIMIT + 7);
});

t.test('command-line notation', async (t) => {
  t.equal(parseGpid('3:1'), 12582913);
  t.equal(parseGpid(' 4195538 '), 4195538);
  t.equal(formatGpid(12582913), '3:1');
  for (const bad of [
    '',
    'abc',
    '3:',
    ':1',
    '0:5',
    '600:1',
    '3:0',
    '-4195538',
    '12',
    '3:1:2',
    '1e7',
  ]) {
    t.throws(() => parseGpid(bad), GpidError, `rejects ${JSON.stringify(bad)}`);
  }
});
