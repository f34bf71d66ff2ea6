/** The gateway-owned route dispatcher: exact method and path, 405 with Allow, 404, HEAD via GET. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestContext } from '../../gateway/http/context.js';
import { sendData, sendError } from '../../gateway/http/reply.js';
import { createDispatcher } from '../../gateway/routes/table.js';
import { startProbe } from '../helpers/app.js';
import { call } from '../helpers/fixtures.js';

let probe: Awaited<ReturnType<typeof startProbe>>;

beforeAll(async () => {
  const dispatch = createDispatcher(
    { 'GET /a': async ({ res }) => sendData(res, 'get a'), 'POST /a': async ({ res }) => sendData(res, 'post a') },
    { 'DELETE /b': async ({ res }) => sendData(res, 'delete b') },
  );
  probe = await startProbe(async (req, res) => {
    // The dispatcher reads only req, res and the normalized path of the context.
    const ctx = { req, res, path: new URL(req.url ?? '/', 'http://x').pathname } as RequestContext;
    await dispatch(ctx).catch((err: unknown) => sendError(res, err));
  });
});
afterAll(() => probe?.close());

describe('createDispatcher', () => {
  it('routes by method and exact path', async () => {
    expect((await call(`${probe.url}/a`)).body.data).toBe('get a');
    expect((await call(`${probe.url}/a`, { method: 'POST' })).body.data).toBe('post a');
    expect((await call(`${probe.url}/b`, { method: 'DELETE' })).body.data).toBe('delete b');
  });

  it('a trailing slash is the same path', async () => {
    expect((await call(`${probe.url}/a/`)).body.data).toBe('get a');
  });

  it('HEAD is served by GET', async () => {
    const r = await fetch(`${probe.url}/a`, { method: 'HEAD' });
    expect(r.status).toBe(200);
  });

  it('another method → 405 with Allow (HEAD listed after GET)', async () => {
    const r = await call(`${probe.url}/a`, { method: 'PUT' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(r.body).toEqual({ status: 'error', message: 'method not allowed' });
    expect((await call(`${probe.url}/b`)).headers.get('allow')).toBe('DELETE');
  });

  it('an unknown path or a longer one → 404', async () => {
    for (const path of ['/c', '/a/x', '/A']) {
      const r = await call(probe.url + path);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ status: 'error', message: 'not found' });
    }
  });

  it('refuses a duplicate route at build time', () => {
    const h = async () => {};
    expect(() => createDispatcher({ 'GET /x': h }, { 'GET /x': h })).toThrow(/duplicate/);
  });
});
