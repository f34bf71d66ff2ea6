/**
 * `npm run stub` (README.md): the upstream stub alone. STUB_PORT (9090), STUB_HOST (0.0.0.0),
 * STUB_JWKS_URL (the gateway's JWKS, default http://127.0.0.1:8080/.well-known/jwks.json),
 * IDENTITY_AUDIENCE (get2dial-upstream).
 */
import { createStub } from './server.js';

const port = Number(process.env.STUB_PORT ?? '9090');
const host = process.env.STUB_HOST ?? '0.0.0.0';
const jwksUrl = process.env.STUB_JWKS_URL ?? 'http://127.0.0.1:8080/.well-known/jwks.json';
const audience = process.env.IDENTITY_AUDIENCE ?? 'get2dial-upstream';

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`upstream-stub: STUB_PORT must be 0..65535 (got "${process.env.STUB_PORT}")\n`);
  process.exit(1);
}

createStub({ port, host, jwksUrl, audience }).then(
  (stub) => {
    process.stdout.write(`${JSON.stringify({ msg: 'upstream stub listening', url: stub.url, jwksUrl, audience })}\n`);
    const stop = () => void stub.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  },
  (err: unknown) => {
    process.stderr.write(`upstream-stub: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
