/** ops/histogram.ts: the hot-path histogram prints exactly what prom-client's Histogram would. */
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../../gateway/ops/histogram.js';

const BUCKETS = [0.01, 0.1, 1];
const VALUES = [0.005, 0.01, 0.05, 0.1, 0.5, 2, 30];

describe('FastHistogram', () => {
  it('renders the same exposition as prom-client (cumulative buckets, le on the bound, +Inf, sum, count, default labels)', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    for (const r of [theirs, ours]) r.setDefaultLabels({ instance: 'a' });
    const h = new Histogram({
      name: 'h_seconds',
      help: 'help',
      labelNames: ['route', 'method'] as const,
      buckets: BUCKETS,
      registers: [theirs],
    });
    const f = new FastHistogram('h_seconds', 'help', BUCKETS);
    ours.registerMetric(f as unknown as Histogram);
    for (const v of VALUES) {
      h.labels('/api', 'GET').observe(v);
      f.seriesFor({ route: '/api', method: 'GET' }).observe(v);
    }
    h.labels('/x', 'POST').observe(0.2);
    f.seriesFor({ route: '/x', method: 'POST' }).observe(0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // The JSON the cluster aggregates: the same, bar prom-client's empty exemplar slots.
    const plain = (m: unknown) =>
      JSON.parse(JSON.stringify(m, (k, v: unknown) => (k === 'exemplar' ? undefined : v))) as unknown;
    expect(plain(await ours.getMetricsAsJSON())).toEqual(plain(await theirs.getMetricsAsJSON()));
  });

  it('ignores non-finite values, keeps one series per label set, and resets to zero', () => {
    const f = new FastHistogram('h', 'help', BUCKETS);
    const s = f.seriesFor({ route: '/api' });
    expect(f.seriesFor({ route: '/api' })).toBe(s);
    s.observe(Number.NaN);
    s.observe(Number.POSITIVE_INFINITY);
    s.observe(0.05);
    expect(s.count).toBe(1);
    expect([...s.counts]).toEqual([0, 1, 0, 0]);
    f.reset();
    expect(s.count).toBe(0);
    expect(s.sum).toBe(0);
    expect([...s.counts]).toEqual([0, 0, 0, 0]);
  });
});
