/**
 * The setups under test, each a child process on a loopback port with its configuration generated
 * into the run's temp dir (never system-wide config): the minimal upstream, nginx as a plain
 * reverse proxy, HAProxy checking the same HS256 tokens with its native `jwt_verify` and injecting
 * the same plain identity headers (docs/benchmark.md), and the compiled gateway (dist/, what `npm run serve`
 * runs). nginx and HAProxy run in the foreground with as many workers/threads as the gateway has
 * processes (GATEWAY_WORKERS), and are killed at the end.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runToEnd, start, waitForPort, which, type Proc } from './procs.js';

export interface Service {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  readonly logFile: string;
}

/** The minimal upstream (bench/upstream.ts) in its own process. */
export async function startUpstream(workDir: string, entry: readonly string[]): Promise<Service> {
  const port = await freePort();
  const logFile = join(workDir, 'upstream.log');
  const proc = start('upstream', process.execPath, [...entry, String(port)], { logFile });
  await waitForPort(port, proc, logFile);
  return { name: 'upstream', url: `http://127.0.0.1:${port}`, port, proc, logFile };
}

/** The local OTLP/HTTP receiver of the tracing-cost scenario (bench/otlp-sink.ts). */
export async function startOtlpSink(workDir: string, entry: readonly string[]): Promise<Service> {
  const port = await freePort();
  const logFile = join(workDir, 'otlp-sink.log');
  const proc = start('otlp-sink', process.execPath, [...entry, String(port)], { logFile });
  await waitForPort(port, proc, logFile);
  return { name: 'otlp-sink', url: `http://127.0.0.1:${port}`, port, proc, logFile };
}

/**
 * nginx as a plain reverse proxy (no auth): keep-alive to the upstream, HTTP/1.1, WebSocket
 * upgrade passed through, an access log (the gateway writes one too). Null when nginx is absent.
 */
export async function startNginx(workDir: string, upstreamPort: number, workers: number): Promise<Service | null> {
  const bin = which('nginx');
  if (!bin) return null;
  const dir = join(workDir, 'nginx');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 30000; multi_accept on; }
http {
  access_log ${dir}/logs/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream bench_upstream { server 127.0.0.1:${upstreamPort}; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 300s;
    }
  }
}
`,
  );
  const logFile = join(dir, 'logs', 'stderr.log');
  await runToEnd(bin, ['-t', '-e', join(dir, 'logs', 'error.log'), '-p', dir, '-c', conf], { timeoutMs: 10_000 });
  const proc = start('nginx', bin, ['-e', join(dir, 'logs', 'error.log'), '-p', dir, '-c', conf], { logFile });
  await waitForPort(port, proc, logFile);
  return { name: 'nginx', url: `http://127.0.0.1:${port}`, port, proc, logFile };
}

/** The `global` and `defaults` sections every bench HAProxy shares (`globalExtra`: more `global` lines). */
export function haproxyPreamble(dir: string, threads: number, globalExtra = ''): string {
  return `global
  maxconn 9000
  nbthread ${threads}
  pidfile ${dir}/haproxy.pid
${globalExtra}
defaults
  mode http
  option http-keep-alive
  option forwardfor
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 65s
  timeout tunnel 300s
`;
}

export interface JwtCheck {
  readonly secret: string;
  readonly issuer: string;
  readonly audience: string;
  readonly leewaySeconds: number;
}

/**
 * HAProxy (≥ 2.5) doing what a team might do instead of the gateway: `jwt_verify` on the bearer
 * token (HS256 only), `exp` with the same leeway, `iss`/`aud`, `tid`/`sub` present, every
 * client `x-g2d-*` header removed and the plain identity headers set from the claims. It cannot
 * consult revocation, user status or sign an assertion — the ratio shows what those cost.
 */
export async function startHaproxy(
  workDir: string,
  upstreamPort: number,
  jwt: JwtCheck,
  threads: number,
): Promise<Service | null> {
  const bin = which('haproxy');
  if (!bin) return null;
  const dir = join(workDir, 'haproxy');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  const deny = `return status 401 content-type application/json string '{"status":"error","message":"missing or invalid authorization header"}' hdr WWW-Authenticate 'Bearer realm="get2dial"'`;
  writeFileSync(
    conf,
    `${haproxyPreamble(dir, threads)}
frontend bench_jwt
  bind 127.0.0.1:${port}
  http-request set-var(txn.bearer) http_auth_bearer
  http-request ${deny} unless { var(txn.bearer) -m found }
  http-request ${deny} unless { var(txn.bearer),jwt_header_query('$.alg') -m str HS256 }
  http-request ${deny} unless { var(txn.bearer),jwt_verify("HS256","${jwt.secret}") -m int 1 }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date
  http-request set-var(txn.left) var(txn.exp),sub(txn.now)
  http-request ${deny} if { var(txn.left) -m int lt -${jwt.leewaySeconds} }
  http-request ${deny} unless { var(txn.bearer),jwt_payload_query('$.iss') -m str ${jwt.issuer} }
  http-request ${deny} unless { var(txn.bearer),jwt_payload_query('$.aud') -m str ${jwt.audience} }
  http-request set-var(txn.tid) var(txn.bearer),jwt_payload_query('$.tid')
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('$.sub')
  http-request set-var(txn.role) var(txn.bearer),jwt_payload_query('$.role')
  http-request set-var(txn.email) var(txn.bearer),jwt_payload_query('$.email')
  http-request ${deny} unless { var(txn.tid) -m found } { var(txn.sub) -m found }
  http-request del-header ^x-g2d- -m reg
  http-request set-header X-G2D-Auth user
  http-request set-header X-G2D-Tenant-Id %[var(txn.tid)]
  http-request set-header X-G2D-User-Id %[var(txn.sub)]
  http-request set-header X-G2D-User-Email %[var(txn.email)]
  http-request set-header X-G2D-Role %[var(txn.role)]
  default_backend bench_upstream

backend bench_upstream
  http-reuse always
  server u1 127.0.0.1:${upstreamPort}
`,
  );
  await runToEnd(bin, ['-c', '-f', conf], { timeoutMs: 10_000 });
  const logFile = join(dir, 'stderr.log');
  const proc = start('haproxy', bin, ['-db', '-f', conf], { logFile });
  await waitForPort(port, proc, logFile);
  return { name: 'haproxy', url: `http://127.0.0.1:${port}`, port, proc, logFile };
}

/**
 * The compiled gateway, launched like `npm run serve` (bin/gateway.cjs → dist/gateway/main.js),
 * configured through its environment. `nodeArgs` lets the bench add `--cpu-prof`.
 */
export async function startGateway(
  workDir: string,
  root: string,
  env: Record<string, string>,
  options: { nodeArgs?: readonly string[]; label?: string; nodeBin?: string } = {},
): Promise<Service> {
  const port = await freePort();
  const logFile = join(workDir, `${options.label ?? 'gateway'}.log`);
  const childEnv: NodeJS.ProcessEnv = {};
  // Only what a shell would pass on: no inherited DATABASE_URL/REDIS_*/AUTH_* from the caller.
  for (const key of ['PATH', 'HOME', 'LANG', 'TZ'])
    if (process.env[key] !== undefined) childEnv[key] = process.env[key];
  Object.assign(childEnv, env, { HOST: '127.0.0.1', PORT: String(port) });
  const proc = start(
    options.label ?? 'gateway',
    options.nodeBin ?? process.execPath,
    [...(options.nodeArgs ?? []), join(root, 'bin', 'gateway.cjs')],
    {
      env: childEnv,
      logFile,
      cwd: root,
    },
  );
  await waitForPort(port, proc, logFile, 60_000);
  return { name: options.label ?? 'gateway', url: `http://127.0.0.1:${port}`, port, proc, logFile };
}
