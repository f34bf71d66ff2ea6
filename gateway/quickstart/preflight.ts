/**
 * Checks `npm start` can work before anything slow happens (the build, the embedded database):
 * the configuration and both ports (gateway and stub). Every problem is listed at once, like a
 * configuration error. bin/quickstart.cjs runs it from source (tsx) before it builds dist/.
 */
import { createServer } from 'node:net';
import { ConfigError, type Env } from '../config/index.js';
import { loadQuickstartConfig } from '../config/quickstart.js';

/** Resolves to null when `host:port` can be bound, else to the error code (EADDRINUSE, EACCES, …). */
function portProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

function describe(code: string, host: string, port: number, variable: string): string {
  if (code === 'EADDRINUSE') return `port ${port} on ${host} is in use; set ${variable} to another port`;
  if (code === 'EACCES') return `port ${port} on ${host} needs privileges; set ${variable} to a port above 1023`;
  return `cannot listen on ${host}:${port} (${code}); check HOST and ${variable}`;
}

/** Every problem that would stop the quickstart, or an empty list. */
export async function preflight(env: Env): Promise<string[]> {
  const problems: string[] = [];
  let host = (env.HOST ?? '').trim() || '127.0.0.1';
  let port: number | null = null;
  let stubPort: number | null = null;
  try {
    const qs = loadQuickstartConfig(env);
    host = qs.config.host;
    port = qs.config.port;
    stubPort = qs.upstreamIsStub ? qs.stubPort : null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
    // The ports can still be checked when their own values are fine.
    const p = Number((env.PORT ?? '').trim() || '8080');
    if (Number.isInteger(p) && p >= 0 && p <= 65535) port = p;
    const s = Number((env.STUB_PORT ?? '').trim() || '9090');
    if ((env.UPSTREAM_URL ?? '').trim() === '' && Number.isInteger(s) && s >= 0 && s <= 65535) stubPort = s;
  }
  if (port !== null && port !== 0) {
    const code = await portProblem(host, port);
    if (code) problems.push(describe(code, host, port, 'PORT'));
  }
  if (stubPort !== null && stubPort !== 0 && stubPort !== port) {
    const code = await portProblem('127.0.0.1', stubPort);
    if (code) problems.push(describe(code, '127.0.0.1', stubPort, 'STUB_PORT'));
  }
  return problems;
}
