/**
 * A measured prototype of the design that would close the gap to HAProxy's native JWT check
 * (docs/benchmark.md, "What would close it"): a native proxy hop in front of the gateway that
 * answers from the gateway's own cached decisions. HAProxy holds a map, SHA-256 of the token → decision (expiry,
 * tenant, user, email, role, methods, the signed identity assertion), filled and emptied by the
 * gateway over HAProxy's runtime API. A hit is checked for expiry natively, stripped of client
 * identity headers and the credential, given the identity headers and sent straight to the
 * upstream; anything else (a miss, an auth or node route, a query string that could carry a
 * credential or `tenant_id`) goes to the gateway unchanged, which stays the only judge.
 *
 * In the prototype the bench plays the gateway's part of the protocol: it asks the gateway for the
 * decision (one request through it to the upstream's echo) and writes it with `add map`/`set map`,
 * again every 20 s so the assertion (60 s lifetime, reissued past 30 s) stays as fresh as the
 * gateway's own. What the design still needs is in docs/benchmark.md.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, runToEnd, start, waitForPort, which } from './procs.js';
import { haproxyPreamble, type Service } from './setups.js';

export interface NativeHop extends Service {
  /** Asks the gateway for `token`'s decision and writes it into the hop's map (add or replace). */
  decide(token: string): Promise<void>;
  /** Keeps every decided token's assertion fresh until stop. */
  refreshEvery(ms: number): () => void;
}

/** One command over HAProxy's runtime API (the admin socket); resolves with its answer. */
function runtime(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let out = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (out += d));
    sock.on('end', () => resolve(out.trim()));
    sock.on('error', reject);
    sock.end(`${command}\n`);
  });
}

export async function startNativeHop(
  workDir: string,
  upstreamPort: number,
  gateway: Service,
  threads: number,
): Promise<NativeHop | null> {
  const bin = which('haproxy');
  if (!bin) return null;
  const dir = join(workDir, 'native-hop');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  const map = join(dir, 'decisions.map');
  const admin = join(dir, 'admin.sock');
  writeFileSync(map, '');
  const hit = 'if hit fresh';
  writeFileSync(
    conf,
    `${haproxyPreamble(dir, threads, `  stats socket ${admin} mode 600 level admin\n`)}
frontend native_hop
  bind 127.0.0.1:${port}
  acl candidate path_beg /api/v1/
  acl gateway_only path_beg /api/v1/auth/ /api/v1/nodes/
  acl has_query query -m found
  http-request set-var(txn.bearer) http_auth_bearer if candidate !gateway_only !has_query
  http-request set-var(txn.dec) var(txn.bearer),sha2(256),hex,map(${map}) if { var(txn.bearer) -m found }
  acl hit var(txn.dec) -m found
  http-request set-var(txn.now) date if hit
  http-request set-var(txn.left) var(txn.dec),field(1,|),sub(txn.now) if hit
  acl fresh var(txn.left) -m int ge 0
  http-request del-header ^x-g2d- -m reg ${hit}
  http-request del-header authorization ${hit}
  http-request set-header X-G2D-Auth user ${hit}
  http-request set-header X-G2D-Tenant-Id %[var(txn.dec),field(2,|)] ${hit}
  http-request set-header X-G2D-User-Id %[var(txn.dec),field(3,|)] ${hit}
  http-request set-header X-G2D-User-Email %[var(txn.dec),field(4,|)] ${hit}
  http-request set-header X-G2D-Role %[var(txn.dec),field(5,|)] ${hit}
  http-request set-header X-G2D-Auth-Methods %[var(txn.dec),field(6,|)] ${hit}
  http-request set-header X-G2D-Identity %[var(txn.dec),field(7,|)] ${hit}
  use_backend upstream ${hit}
  default_backend gateway

backend upstream
  http-reuse always
  server u1 127.0.0.1:${upstreamPort}

backend gateway
  http-reuse always
  server g1 127.0.0.1:${gateway.port}
`,
  );
  await runToEnd(bin, ['-c', '-f', conf], { timeoutMs: 10_000 });
  const logFile = join(dir, 'stderr.log');
  const proc = start('native-hop', bin, ['-db', '-f', conf], { logFile });
  await waitForPort(port, proc, logFile);
  const decided = new Set<string>();
  const decide = async (token: string): Promise<void> => {
    const res = await fetch(`${gateway.url}/api/v1/bench/echo`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) throw new Error(`native hop: the gateway answered ${res.status} for a decision`);
    const h = ((await res.json()) as { headers: Record<string, string> }).headers;
    const exp = (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { exp: number }).exp;
    const fields = [
      exp,
      h['x-g2d-tenant-id'],
      h['x-g2d-user-id'],
      h['x-g2d-user-email'],
      h['x-g2d-role'],
      h['x-g2d-auth-methods'],
      h['x-g2d-identity'],
    ];
    if (fields.some((f) => f === undefined || String(f).includes('|') || /\s/.test(String(f))))
      throw new Error('native hop: a decision field is missing or holds a separator');
    const verb = decided.has(token) ? 'set' : 'add';
    // Keyed by the token's SHA-256: no bearer token is held by the hop or crosses its admin socket.
    const key = createHash('sha256').update(token).digest('hex').toUpperCase();
    const answer = await runtime(admin, `${verb} map ${map} ${key} ${fields.join('|')}`);
    if (answer !== '') throw new Error(`native hop: ${verb} map answered ${answer}`);
    decided.add(token);
  };
  return {
    name: 'native-hop',
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    logFile,
    decide,
    refreshEvery(ms) {
      const timer = setInterval(() => {
        for (const token of decided) void decide(token).catch(() => {});
      }, ms);
      return () => clearInterval(timer);
    },
  };
}
