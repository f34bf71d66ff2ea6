/** GET /.well-known/jwks.json in process: public EdDSA keys only, cacheable, HEAD without a body. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { call } from '../helpers/fixtures.js';

let t: TestApp;
const JWKS = '/.well-known/jwks.json';

beforeAll(async () => {
  t = await startApp({ database: 'shared' });
});
afterAll(() => t?.close());

describe('jwks', () => {
  it('publishes the public signing key, never private parts', async () => {
    const r = await call(t.url + JWKS);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/jwk-set+json');
    expect(r.headers.get('cache-control')).toBe('public, max-age=300');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.body.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of r.body.keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: expect.any(String) });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('HEAD: the same headers, no body', async () => {
    const get = await fetch(t.url + JWKS);
    const head = await fetch(t.url + JWKS, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect(await head.text()).toBe('');
  });

  it('needs no credentials and ignores a bad one', async () => {
    expect((await call(t.url + JWKS, { token: 'garbage' })).status).toBe(200);
  });

  it('other methods → 405 with Allow: GET, HEAD', async () => {
    const r = await call(t.url + JWKS, { method: 'POST', json: {} });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
    expect(r.body).toEqual({ status: 'error', message: 'method not allowed' });
  });
});
