/** CORS per HTTP_ALLOWED_ORIGINS: exact origin matches only, never an echoed unlisted origin. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCors } from '../../gateway/http/cors.js';
import { startProbe } from '../helpers/app.js';
import { call } from '../helpers/fixtures.js';

const ALLOWED = 'https://app.example';
let probe: Awaited<ReturnType<typeof startProbe>>;

beforeAll(async () => {
  const cors = createCors([ALLOWED, 'http://localhost:3000']);
  probe = await startProbe((req, res) => {
    if (cors.isPreflight(req)) return void cors.preflight(req, res);
    cors.decorate(req, res);
    res.end(JSON.stringify({ allowed: cors.originAllowed(req) }));
  });
});
afterAll(() => probe?.close());

const preflight = (origin: string | null, headers: Record<string, string> = {}) =>
  call(probe.url, {
    method: 'OPTIONS',
    headers: { ...(origin ? { origin } : {}), 'access-control-request-method': 'POST', ...headers },
  });

describe('createCors', () => {
  it('decorates a listed origin and exposes the documented headers', async () => {
    const r = await call(probe.url, { headers: { origin: ALLOWED } });
    expect(r.body).toEqual({ allowed: true });
    expect(r.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(r.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    expect(r.headers.get('vary')).toBe('Origin');
  });

  it.each(['https://app.example.evil', 'https://APP.example', 'https://app.example:443', 'null'])(
    'never echoes %s',
    async (origin) => {
      const r = await call(probe.url, { headers: { origin } });
      expect(r.body).toEqual({ allowed: false });
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  it('a request without Origin is allowed (not a browser cross-origin call)', async () => {
    expect((await call(probe.url)).body).toEqual({ allowed: true });
  });

  it('an empty list allows any origin but decorates none', () => {
    const open = createCors([]);
    const req = { headers: { origin: 'https://x.example' }, method: 'GET' } as never;
    expect(open.originAllowed(req)).toBe(true);
  });

  it('preflight from a listed origin: 204 with methods, requested headers, max-age', async () => {
    const r = await preflight(ALLOWED, { 'access-control-request-headers': 'authorization, content-type' });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(r.headers.get('access-control-allow-methods')).toContain('POST');
    expect(r.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(r.headers.get('access-control-max-age')).toBe('600');
  });

  it('preflight with odd requested headers falls back to the default list', async () => {
    const r = await preflight(ALLOWED, { 'access-control-request-headers': 'x-a; evil=1' });
    expect(r.headers.get('access-control-allow-headers')).toContain('Authorization');
    expect(r.headers.get('access-control-allow-headers')).not.toContain('evil');
  });

  it('preflight from an unlisted origin: 403 in the error envelope', async () => {
    const r = await preflight('https://evil.example');
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ status: 'error', message: 'forbidden' });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('OPTIONS without Access-Control-Request-Method is not a preflight', async () => {
    const r = await call(probe.url, { method: 'OPTIONS', headers: { origin: ALLOWED } });
    expect(r.status).toBe(200);
  });
});
