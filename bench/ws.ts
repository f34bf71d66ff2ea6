/**
 * WebSocket load, run as its own process (`node dist/bench/ws.js <json>`) so it never shares an
 * event loop with the orchestrator or the gateway.
 *
 * - `echo`: `connections` sockets each send a message, wait for the echo, and send again until the
 *   duration ends → messages/s and round-trip p50/p99. Prints `WS_JSON {…}`.
 * - `hold`: opens `count` sockets (in batches, under the listen backlog), prints
 *   `WS_HELD {…}` once they are all open, keeps them idle until stdin closes, then closes them.
 */
import WebSocket from 'ws';

export interface EchoSpec {
  readonly mode: 'echo';
  readonly url: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly messageBytes: number;
  readonly headers?: Record<string, string>;
}

export interface HoldSpec {
  readonly mode: 'hold';
  readonly url: string;
  readonly count: number;
  readonly batch: number;
  readonly headers?: Record<string, string>;
}

export interface EchoResult {
  readonly connections: number;
  readonly messages: number;
  readonly messagesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

export interface HoldResult {
  readonly requested: number;
  readonly held: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly seconds: number;
}

function open(url: string, headers: Record<string, string> | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 20_000 });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
    ws.once('error', reject);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function echo(spec: EchoSpec): Promise<EchoResult> {
  const sockets = await Promise.all(Array.from({ length: spec.connections }, () => open(spec.url, spec.headers)));
  const payload = Buffer.alloc(spec.messageBytes, 0x61);
  const cap = 4_000_000;
  const samples = new Float64Array(cap);
  let n = 0;
  let messages = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + spec.durationSec * 1000;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let sentAt = 0;
          const send = () => {
            sentAt = performance.now();
            ws.send(payload);
          };
          ws.on('message', () => {
            const now = performance.now();
            if (n < cap) samples[n++] = now - sentAt;
            messages += 1;
            if (now < end) send();
            else resolve();
          });
          ws.on('error', () => {
            errors += 1;
            resolve();
          });
          ws.on('close', () => resolve());
          send();
        }),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const ws of sockets) ws.terminate();
  const sorted = samples.subarray(0, n).sort();
  return {
    connections: sockets.length,
    messages,
    messagesPerSec: messages / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors,
  };
}

async function hold(spec: HoldSpec): Promise<void> {
  const sockets: WebSocket[] = [];
  let failed = 0;
  let firstError: string | null = null;
  const started = performance.now();
  for (let i = 0; i < spec.count; i += spec.batch) {
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(spec.batch, spec.count - i) }, () => open(spec.url, spec.headers)),
    );
    for (const r of results) {
      if (r.status === 'fulfilled') {
        r.value.on('error', () => {});
        sockets.push(r.value);
      } else {
        failed += 1;
        firstError ??= r.reason instanceof Error ? r.reason.message : String(r.reason);
      }
    }
  }
  const result: HoldResult = {
    requested: spec.count,
    held: sockets.filter((s) => s.readyState === WebSocket.OPEN).length,
    failed,
    firstError,
    seconds: (performance.now() - started) / 1000,
  };
  process.stdout.write(`WS_HELD ${JSON.stringify(result)}\n`);
  // Held idle until the orchestrator has measured and closes our stdin.
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.once('close', () => resolve()));
  for (const ws of sockets) ws.terminate();
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as EchoSpec | HoldSpec;
  if (spec.mode === 'echo') process.stdout.write(`WS_JSON ${JSON.stringify(await echo(spec))}\n`);
  else await hold(spec);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
