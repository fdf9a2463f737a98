/**
 * A prom-client Histogram for hot paths (one observation per FUSE request). prom-client's own
 * `labels(...).observe(v)` converts, validates and hashes the labels on every observation:
 * ~1.4 us here, against ~30 us for a whole FUSE request. A child of this histogram is made
 * once per label set and observes with a few additions into its own array; the registry
 * reads the children at scrape time, in prom-client's own format (cumulative `_bucket`
 * series with `le`, then `_sum` and `_count`). prom-client's registry reads a histogram
 * through `getForPromString()` (its text format; not in its type declarations) and
 * `get()` (JSON): both are overridden. test/0-unit/fast-histogram.test.ts checks the text a
 * registry gives, so a prom-client that reads histograms otherwise fails a test.
 */
import { Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

type Snapshot<T extends string> = Awaited<ReturnType<Histogram<T>['get']>>;

interface Child<T extends string> {
  labels: LabelValues<T>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class FastHistogram<T extends string> extends Histogram<T> {
  private readonly bounds: number[];
  private readonly children: Child<T>[] = [];

  /** @param config as prom-client's, `buckets` required (upper bounds, seconds or other units). */
  constructor(private readonly config: HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.bounds = [...config.buckets].sort((a, b) => a - b);
  }

  /**
   * The observer of one label set, made once (not per observation).
   * @returns a function that records one value (a finite number; others are ignored).
   */
  child(labels: LabelValues<T>): (value: number) => void {
    const c: Child<T> = {
      labels,
      counts: new Float64Array(this.bounds.length + 1),
      sum: 0,
      count: 0,
    };
    this.children.push(c);
    const bounds = this.bounds;
    const n = bounds.length;
    return (value) => {
      if (!Number.isFinite(value)) return;
      let i = 0;
      while (i < n && value > bounds[i]) i++;
      c.counts[i]++;
      c.sum += value;
      c.count++;
    };
  }

  /** The children's series, as prom-client's Histogram gives its own (JSON). */
  override get(): ReturnType<Histogram<T>['get']> {
    return this.getForPromString();
  }

  /** The same, for the registry's text format. */
  getForPromString(): ReturnType<Histogram<T>['get']> {
    const { name, help } = this.config;
    const values: Snapshot<T>['values'] = [];
    for (const c of this.children) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += c.counts[i];
        const le = i < this.bounds.length ? this.bounds[i] : '+Inf';
        values.push({
          metricName: `${name}_bucket`,
          labels: withLabel(c.labels, 'le', le),
          value: cumulative,
        });
      }
      values.push({ metricName: `${name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${name}_count`, labels: c.labels, value: c.count });
    }
    // prom-client's declarations type `type` as an enum it does not export; its registry
    // prints the string ("histogram"), as its own histograms give it.
    const type = 'histogram' as unknown as Snapshot<T>['type'];
    return Promise.resolve({ name, help, type, values, aggregator: 'sum', collect: () => {} });
  }
}

function withLabel<T extends string>(
  labels: LabelValues<T>,
  name: string,
  value: string | number,
): LabelValues<T> {
  return Object.assign({ [name]: value }, labels); // first, as prom-client prints it
}
