/** JSON request bodies: type, coding, size (streamed), UTF-8, shape; every refusal a documented 4xx. */
import fc from 'fast-check';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, isGatewayError } from '../../gateway/errors.js';
import { Type } from 'typebox';
import { checkBody, readJsonBody } from '../../gateway/http/body.js';
import { Body, Optional } from '../../gateway/http/schemas/common.js';
import { rawExchange, startProbe, statusOf } from '../helpers/app.js';
import { call } from '../helpers/fixtures.js';

let probe: Awaited<ReturnType<typeof startProbe>>;
const SPEC = Body({ email: Type.String(), password: Type.String(), remember: Optional(Type.Boolean()) }, 'a test body');

beforeAll(async () => {
  probe = await startProbe(async (req, res) => {
    try {
      const body = await readJsonBody(req, SPEC, 1000);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } catch (err) {
      res
        .writeHead(isGatewayError(err) ? err.status : 500, { 'x-code': isGatewayError(err) ? err.code : 'none' })
        .end();
    }
  });
});
afterAll(() => probe?.close());

const post = (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  call(probe.url, { method: 'POST', body, headers });

describe('readJsonBody', () => {
  it('parses the documented fields', async () => {
    const r = await post('{"email":"a@b.c","password":"p","remember":true}');
    expect(r.body).toEqual({ email: 'a@b.c', password: 'p', remember: true });
  });

  it('accepts +json types and parameters; drops a null optional field', async () => {
    const r = await post('{"email":"a","password":"p","remember":null}', {
      'content-type': 'application/merge-patch+json; charset=utf-8',
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ email: 'a', password: 'p' });
  });

  it.each([
    ['no type', {}],
    ['text/plain', { 'content-type': 'text/plain' }],
    ['application/jsonx', { 'content-type': 'application/jsonx' }],
    ['a content coding', { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
  ])('%s → 415 UNSUPPORTED_MEDIA_TYPE', async (_name, headers) => {
    const r = await post('{"email":"a","password":"p"}', headers);
    expect([r.status, r.headers.get('x-code')]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });

  it('identity coding is no coding', async () => {
    expect(
      (
        await post('{"email":"a","password":"p"}', {
          'content-type': 'application/json',
          'content-encoding': 'Identity',
        })
      ).status,
    ).toBe(200);
  });

  it('a declared length over the cap → 413 before reading', async () => {
    const raw = await rawExchange(
      probe.port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nConnection: close',
    );
    expect(statusOf(raw)).toBe(413);
  });

  it('a chunked body growing past the cap → 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        probe.url,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write('{"email":"');
      req.end('x'.repeat(2000) + '","password":"p"}');
    });
    expect(status).toBe(413);
  });

  it.each([
    ['malformed', '{"email":'],
    ['empty', ''],
    ['not an object', '"a string"'],
    ['an array', '[{"email":"a","password":"p"}]'],
    ['null', 'null'],
    ['an unknown field', '{"email":"a","password":"p","admin":true}'],
    ['a missing field', '{"email":"a"}'],
    ['a wrong type', '{"email":"a","password":1}'],
    ['a null required field', '{"email":null,"password":"p"}'],
    ['a NUL character', '{"email":"a\\u0000","password":"p"}'],
  ])('%s → 400 INVALID_BODY', async (_name, body) => {
    const r = await post(body);
    expect([r.status, r.headers.get('x-code')]).toEqual([400, 'INVALID_BODY']);
  });

  it('invalid UTF-8 → 400 (never decoded lossily)', async () => {
    const r = await post(
      Buffer.concat([Buffer.from('{"email":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","password":"p"}')]),
    );
    expect(r.status).toBe(400);
  });

  it('__proto__ is an unknown field, not a prototype change', async () => {
    const r = await post('{"email":"a","password":"p","__proto__":{"admin":true}}');
    expect(r.status).toBe(400);
  });
});

describe('checkBody', () => {
  it('any JSON value is either the documented shape or INVALID_BODY', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          const parsed = checkBody(structuredClone(value), SPEC);
          expect(typeof parsed.email).toBe('string');
          expect(typeof parsed.password).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(GatewayError);
          expect((err as GatewayError).code).toBe('INVALID_BODY');
        }
      }),
      { numRuns: 300 },
    );
  });
});
