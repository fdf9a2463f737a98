// The descriptor loaded at run time (gproc.json) must say what gproc.proto says.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSync } from 'protobufjs';
import { defaults } from '../src/defaults';
import { agentService } from '../src/proto';

t.test(
  'gproc.json is generated from gproc.proto (run `make proto` after editing it)',
  async (t) => {
    const fromProto = loadSync(join(__dirname, '..', 'src', 'proto', 'gproc.proto')).toJSON();
    const checkedIn = JSON.parse(
      readFileSync(join(__dirname, '..', 'src', 'proto', 'gproc.json'), 'utf8'),
    );
    t.same(checkedIn, JSON.parse(JSON.stringify(fromProto)));
  },
);

t.test(
  'the service definition round-trips messages as the generated types describe them',
  async (t) => {
    const { service } = agentService();
    t.same(Object.keys(service).sort(), [
      'Events',
      'GetNodeInfo',
      'GetSnapshot',
      'GetUsage',
      'ReadProcessFile',
      'ReadProcessLinks',
      'Run',
      'Seal',
      'Signal',
      'Spawn',
      'Wait',
      'Watch',
    ]);
    t.ok(service.Run.requestStream && service.Run.responseStream, 'Run streams both ways');
    t.ok(service.Events.responseStream && !service.Events.requestStream);
    const snap = service.GetSnapshot;
    const wire = snap.responseSerialize({
      takenAtMs: 1795984111017,
      processes: [{ pid: 7, starttime: 2 ** 40, stat: Buffer.from('7 (x) S') }],
    });
    const back = snap.responseDeserialize(wire) as {
      takenAtMs: number;
      processes: { pid: number; starttime: number; stat: Buffer; threads: unknown[] }[];
      started: unknown[];
    };
    t.equal(back.takenAtMs, 1795984111017, '64-bit integers as numbers');
    t.equal(back.processes[0].starttime, 2 ** 40);
    t.ok(
      Buffer.isBuffer(back.processes[0].stat) && back.processes[0].stat.toString() === '7 (x) S',
      'bytes as Buffers',
    );
    t.same(back.processes[0].threads, [], 'absent repeated fields as empty arrays');
    t.same(back.started, []);
    const exit = service.Wait.responseDeserialize(
      service.Wait.responseSerialize({ signal: 'SIGTERM' }),
    ) as { outcome: string; signal: string };
    t.equal(exit.outcome, 'signal', 'a oneof names its present field');
    const run = service.Run.requestDeserialize(
      service.Run.requestSerialize({ stdinEof: true }),
    ) as { kind: string };
    t.equal(run.kind, 'stdinEof');
    const file = service.ReadProcessFile.requestDeserialize(
      service.ReadProcessFile.requestSerialize({ file: 'IO' }),
    ) as { file: string };
    t.equal(file.file, 'IO', 'enums as names');
  },
);

t.test('requests are bounded by their number of entries, not by the length of one', async (t) => {
  const { service } = agentService();
  const spawn = service.Spawn;
  const big = 'a'.repeat(100_000);
  const back = spawn.requestDeserialize(
    spawn.requestSerialize({ argv: ['true', big], env: [`X=${big}`] }),
  ) as { argv: string[]; env: string[] };
  t.same(
    back.argv.map((a) => a.length),
    [4, 100_000],
    'an argument of 100,000 bytes is one entry',
  );
  t.equal(back.env[0].length, 100_002, 'and so is a variable of 100,000 bytes');
  const max = defaults.limits.requestEntries;
  t.equal(
    (
      spawn.requestDeserialize(
        spawn.requestSerialize({ argv: Array.from({ length: max }, () => 'x') }),
      ) as { argv: string[] }
    ).argv.length,
    max,
    `${max} arguments pass`,
  );
  t.throws(
    () =>
      spawn.requestDeserialize(
        spawn.requestSerialize({ argv: Array.from({ length: max + 1 }, () => 'x') }),
      ),
    { message: `more than ${max} entries in SpawnRequest.argv` },
    'one more is refused before decoding',
  );
});
