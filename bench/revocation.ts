/**
 * Revocation push latency (docs/scale-out.md): two gateway instances on one Postgres and
 * one Redis; N sessions each log in on A and are used once on B (so B holds cached "valid"
 * answers), then log out on A; for each, the time from the logout's 200 to B's first 401, polling
 * B every 5 ms. Target: p99 ≤ 250 ms on loopback.
 */
import { request } from 'node:http';
import type { BenchData } from './fixtures.js';
import { log } from './measure.js';
import type { Service } from './setups.js';

export interface RevocationResult {
  readonly logouts: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly targetP99Ms: number;
  /** Logouts whose 401 on B never came within the poll limit. */
  readonly missed: number;
}

export const REVOCATION_TARGET_P99_MS = 250;
const POLL_MS = 5;
const LIMIT_MS = 10_000;

function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers:
          body === undefined
            ? headers
            : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Runs the scenario against two already started instances; `count` logouts, one at a time. */
export async function measureRevocation(
  data: BenchData,
  a: Service,
  b: Service,
  count = 200,
): Promise<RevocationResult> {
  const samples: number[] = [];
  let missed = 0;
  const emails = data.loginEmails.length > 0 ? data.loginEmails : ['none'];
  log(`revocation: ${count} logouts on one instance, polling the other every ${POLL_MS} ms`);
  for (let i = 0; i < count; i++) {
    const email = emails[i % emails.length] as string;
    const login = await send(
      `${a.url}/api/v1/auth/login`,
      'POST',
      {},
      JSON.stringify({ email, password: data.loginPassword }),
    );
    if (login.status !== 200)
      throw new Error(`revocation: login answered ${login.status}: ${login.text.slice(0, 200)}`);
    const token = (JSON.parse(login.text) as { data: { token: string } }).data.token;
    const auth = { authorization: `Bearer ${token}` };
    const warm = await send(`${b.url}/api/v1/bench`, 'GET', auth);
    if (warm.status !== 200) throw new Error(`revocation: instance B answered ${warm.status} before the logout`);
    const out = await send(`${a.url}/api/v1/auth/logout`, 'POST', auth);
    if (out.status !== 200) throw new Error(`revocation: logout answered ${out.status}`);
    const t0 = performance.now();
    for (;;) {
      const r = await send(`${b.url}/api/v1/bench`, 'GET', auth);
      const elapsed = performance.now() - t0;
      if (r.status === 401) {
        samples.push(elapsed);
        break;
      }
      if (elapsed > LIMIT_MS) {
        missed++;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  const sorted = [...samples].sort((x, y) => x - y);
  const result = {
    logouts: count,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? NaN,
    targetP99Ms: REVOCATION_TARGET_P99_MS,
    missed,
  };
  log(
    `revocation: p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, max ${result.maxMs.toFixed(1)} ms over ${samples.length} logouts` +
      ` (target p99 ≤ ${REVOCATION_TARGET_P99_MS} ms: ${result.p99Ms <= REVOCATION_TARGET_P99_MS && missed === 0 ? 'met' : 'NOT met'})${missed ? `, ${missed} never refused` : ''}`,
  );
  return result;
}
