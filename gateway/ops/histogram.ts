/**
 * A Prometheus histogram whose observation is a bucket search and three additions, for the two
 * that are observed on every request. prom-client's Histogram builds a label-value object, checks
 * the label names and hashes them into a string on every observe(), also through a labels()
 * child: ~0.3-0.7 µs in isolation and more among a request's other work (docs/benchmark.md). This one keeps
 * a series per label set (created once, held by the caller) and hands prom-client's Registry the
 * same values its own Histogram would (`_bucket` with `le` first, `+Inf`, `_sum`, `_count`), so
 * the exposition text, the cluster aggregation (summed) and the metric names stay as they were.
 */

/** One label set's counts. Callers keep it and call observe() on the hot path. */
export class HistogramSeries {
  /** Per bucket (not cumulative); the last slot counts values above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // prom-client refuses non-finite values with a throw; a metric must never fail a request.
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

interface MetricValue {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels?: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
}

/** The histogram, registered into a prom-client Registry with registerMetric (it reads get()). */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The series for these label values (in the order the exposition shows them); created once. */
  seriesFor(labels: Readonly<Record<string, string>>): HistogramSeries {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) {
      s = new HistogramSeries(labels, this.bounds);
      this.series.set(key, s);
    }
    return s;
  }

  /**
   * What prom-client's Histogram.getForPromString() returns, which the Registry formats: the route
   * labels ride as `sharedLabels`, so they print after `le` and any default labels, as before.
   */
  getForPromString(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i] as number;
        values.push({
          labels: { le: this.bounds[i] as number },
          sharedLabels: s.labels,
          value: acc,
          metricName: bucket,
        });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** What prom-client's Histogram.get() returns (cluster aggregation): the labels merged. */
  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] } {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map((v) => ({
        labels: { ...v.labels, ...v.sharedLabels },
        value: v.value,
        metricName: v.metricName,
      })),
    };
  }

  /** Registry.resetMetrics(): every series back to zero (series stay, callers hold them). */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
