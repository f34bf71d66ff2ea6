/**
 * /metrics under GATEWAY_WORKERS: each worker asks the cluster primary for the exposition of every
 * worker merged (prom-client's AggregatorRegistry over IPC), so a scrape sees the whole process.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const METRICS_REQUEST = 'g2d:metrics-req';
const METRICS_RESPONSE = 'g2d:metrics-res';

/**
 * In the cluster primary: answers workers' requests for the cluster-wide exposition by asking
 * every worker for its registry over IPC (prom-client's AggregatorRegistry) and merging them.
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    const m = message as { type?: unknown; id?: unknown };
    if (m?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (body) => worker.isConnected() && worker.send({ type: METRICS_RESPONSE, id: m.id, body }),
      (err: unknown) =>
        worker.isConnected() &&
        worker.send({ type: METRICS_RESPONSE, id: m.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** In a worker: the aggregated exposition from the primary (see serveClusterMetrics). */
export function clusterRender(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs prom-client's worker-side responder for the primary's requests
  const pending = new Map<
    number,
    { resolve: (body: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();
  let next = 0;
  process.on('message', (message: unknown) => {
    const m = message as { type?: unknown; id?: unknown; body?: unknown; error?: unknown };
    if (m?.type !== METRICS_RESPONSE || typeof m.id !== 'number') return;
    const waiter = pending.get(m.id);
    if (!waiter) return;
    pending.delete(m.id);
    clearTimeout(waiter.timer);
    if (typeof m.body === 'string') waiter.resolve(m.body);
    else waiter.reject(new Error(`cluster metrics: ${String(m.error)}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('cluster metrics: the primary did not answer'));
      }, 6_000);
      pending.set(id, { resolve, reject, timer });
      process.send?.({ type: METRICS_REQUEST, id });
    });
}
