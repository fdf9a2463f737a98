// The FUSE request histogram (src/metrics/fast-histogram.ts): what a registry prints for it
// is what prom-client's own Histogram prints for the same observations.
import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/metrics/fast-histogram';

t.test('the same text as a prom-client Histogram', async (t) => {
  const fast = new Registry();
  const slow = new Registry();
  const config = { name: 'x_seconds', help: 'h', labelNames: ['op'] as const, buckets: [0.1, 1] };
  const f = new FastHistogram({ ...config, labelNames: ['op'], registers: [fast] });
  const s = new Histogram({ ...config, labelNames: ['op'], registers: [slow] });
  const values = { getattr: [0.05, 0.1, 0.5, 5], read: [1, Infinity] };
  for (const [op, vs] of Object.entries(values)) {
    const observe = f.child({ op });
    for (const v of vs) {
      observe(v);
      if (Number.isFinite(v)) s.labels(op).observe(v);
    }
  }
  const text = await fast.metrics();
  t.equal(text, await slow.metrics(), 'identical text (a non-finite value is left out)');
  t.match(text, /x_seconds_bucket\{le="0\.1",op="getattr"\} 2/, 'le is an upper bound, inclusive');
  t.match(text, /x_seconds_count\{op="read"\} 1/);
  t.same(
    (await fast.getMetricsAsJSON())[0].values.length,
    (await slow.getMetricsAsJSON())[0].values.length,
    'the JSON form has as many series',
  );
});
