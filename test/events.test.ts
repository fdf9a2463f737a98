// The events file's buffer: readers that fall behind lose the oldest lines, never one in
// the middle (a trim once moved every cursor one line too far).
import t from 'tap';
import { EventHub } from '../src/cluster/events';
import type { Cluster } from '../src/cluster/cluster';
import { createLogger } from '../src/log';

t.test('cursors stay on their line across a trim of the buffer', async (t) => {
  const noNodes = { clients: new Map() } as unknown as Cluster;
  const hub = new EventHub(noNodes, createLogger('test', {}, 'silent'));
  const push = (line: string) => (hub as unknown as { push(line: string): void }).push(line);
  const start = hub.subscribe();
  t.equal(start, 0);
  for (let i = 0; i <= 10000; i++) push(`L${i}\n`); // one past the 10,000 kept: trims to 5,000
  t.same(await hub.next(7000, 3), { text: 'L70', cursor: 7001 }, 'line 7000 is L7000');
  t.equal((await hub.next(10000, 100)).text, 'L10000\n', 'the newest line');
  t.equal((await hub.next(0, 6)).text, 'L5001\n', 'a reader behind the buffer resumes at its oldest line');
  hub.close();
});
