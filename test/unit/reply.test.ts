/** The one renderer: success and error envelopes, their headers, and never a stack trace. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { errorHeaders, sendData, sendError, sendJson } from '../../gateway/http/reply.js';
import { startProbe } from '../helpers/app.js';
import { call } from '../helpers/fixtures.js';

let probe: Awaited<ReturnType<typeof startProbe>>;

beforeAll(async () => {
  probe = await startProbe((req, res) => {
    switch (req.url) {
      case '/data':
        return sendData(res, { a: 1, s: 'é' }, 201, { 'X-Extra': 'yes' });
      case '/locked':
        return sendError(res, new GatewayError('ACCOUNT_LOCKED', { retryAfter: 2.2, detail: 'secret detail' }));
      case '/unauth':
        return sendError(res, new GatewayError('UNAUTHENTICATED'));
      case '/policy':
        return sendError(res, new GatewayError('PASSWORD_POLICY', { publicMessage: 'password is too short' }));
      case '/hidden':
        return sendError(res, new GatewayError('FORBIDDEN', { publicMessage: 'not for clients' }));
      case '/crash':
        return sendError(res, new Error('boom at /srv/app.js:12'));
      case '/twice':
        sendJson(res, 200, { first: true });
        return sendJson(res, 500, { second: true });
      default:
        return sendError(res, new GatewayError('NOT_FOUND'));
    }
  });
});
afterAll(() => probe?.close());

describe('reply', () => {
  it('success envelope with length, type, nosniff and extra headers', async () => {
    const r = await call(`${probe.url}/data`);
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ status: 'success', data: { a: 1, s: 'é' } });
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(JSON.stringify(r.body))));
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-extra')).toBe('yes');
  });

  it('error envelope: table message only, Retry-After rounded up, no-store', async () => {
    const r = await call(`${probe.url}/locked`);
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ status: 'error', message: 'account temporarily locked' });
    expect(r.headers.get('retry-after')).toBe('3');
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('every 401 names the Bearer scheme', async () => {
    const r = await call(`${probe.url}/unauth`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="get2dial"');
  });

  it('a public detail replaces the message only for codes that allow it', async () => {
    expect((await call(`${probe.url}/policy`)).body).toEqual({ status: 'error', message: 'password is too short' });
    expect((await call(`${probe.url}/hidden`)).body).toEqual({ status: 'error', message: 'forbidden' });
  });

  it('an unknown error is a generic 500 without its message', async () => {
    const r = await call(`${probe.url}/crash`);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ status: 'error', message: 'internal server error' });
  });

  it('a second write after the headers went out is ignored', async () => {
    const r = await call(`${probe.url}/twice`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ first: true });
  });

  it('errorHeaders: Retry-After is at least 1', () => {
    expect(errorHeaders(429, 0)).toMatchObject({ 'Retry-After': '1' });
    expect(errorHeaders(400, undefined)).toEqual({ 'Cache-Control': 'no-store' });
  });
});
