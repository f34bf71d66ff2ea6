/**
 * Tokens the gateway cannot revoke are tokens it must not accept (RFC 8725 §3.10): lifetimes past
 * AUTH_JWT_TTL_SECONDS + 30 s, an `iat` in the future, non-canonical base64url spellings
 * (RFC 7515 §2, RFC 4648 §3.5). And logout answers 200 for every token the gateway accepts.
 * In-process gateway, real Postgres and Redis, the verifying stub upstream.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { JWT_SECRET, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const TTL = 3600;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;
let user: { id: string; tenantId: string; email: string; password: string; domain: string };

beforeAll(async () => {
  env = await startProxyEnv(
    [{ prefix: '/api/v1', upstream: '{STUB}', auth: 'user' }],
    { AUTH_JWT_TTL_SECONDS: String(TTL) },
    'token-limits',
  );
  const tenant = await makeTenant(db);
  const made = await makeUser(db, tenant);
  // Tokens without iat count as issued up to TTL + 30 s before their exp: no password change since.
  await db.query(`UPDATE users SET password_changed_at = '2000-01-01T00:00:00Z' WHERE id = $1`, [made.id]);
  user = { id: made.id, tenantId: tenant.id, email: made.email, password: made.password, domain: tenant.domain };
});

afterAll(async () => {
  await env?.close();
  await db.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSec = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>): string {
  const payload = {
    tid: user.tenantId,
    sub: user.id,
    email: user.email,
    role: 'agent',
    iss: 'get2dial',
    aud: 'get2dial-control',
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k as keyof typeof payload];
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`;
}

/** The same signature bytes, spelled with the lowest (pad) bit of its last character flipped. */
function reencodeSignature(token: string): string {
  const i = token.lastIndexOf('.');
  const sig = token.slice(i + 1);
  const flipped = sig.slice(0, -1) + ALPHABET[ALPHABET.indexOf(sig.at(-1) as string) ^ 1];
  expect(Buffer.from(flipped, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
  return `${token.slice(0, i)}.${flipped}`;
}

const proxied = (token: string) => call(`${env.base}/api/v1/calls`, { token });
const logout = (token: string) => call(`${env.base}/api/v1/auth/logout`, { method: 'POST', token });

describe('token lifetime', () => {
  it('exp: 1e20 is refused (401), on a proxied route and on logout', async () => {
    const token = sign({ iat: nowSec(), exp: 1e20, jti: randomBytes(8).toString('hex') });
    expect((await proxied(token)).status).toBe(401);
    const out = await logout(token);
    expect(out.status).toBe(401);
    expect(out.body).toEqual({ status: 'error', message: 'missing or invalid authorization header' });
  });

  it('a lifetime past AUTH_JWT_TTL_SECONDS + 30 s is refused, with or without iat', async () => {
    const now = nowSec();
    expect((await proxied(sign({ iat: now - 100, exp: now - 100 + TTL + 31 }))).status).toBe(401);
    expect((await proxied(sign({ exp: now + TTL + 60 }))).status).toBe(401);
    expect((await proxied(sign({ exp: now + TTL - 60 }))).status).toBe(200);
  });

  it('an iat more than 30 s in the future is refused (401)', async () => {
    const now = nowSec();
    expect((await proxied(sign({ iat: now + 120, exp: now + 600 }))).status).toBe(401);
    expect((await proxied(sign({ iat: now + 5, exp: now + 600 }))).status).toBe(200);
  });
});

describe('one spelling per token', () => {
  it("a login token's signature re-encoded with other pad bits is refused (401)", async () => {
    const login = await call(`${env.base}/api/v1/auth/login`, {
      method: 'POST',
      json: { email: user.email, password: user.password, tenant_domain: user.domain },
    });
    expect(login.status).toBe(200);
    const token = login.body.data.token as string;
    expect((await proxied(token)).status).toBe(200);
    expect((await proxied(reencodeSignature(token))).status).toBe(401);
  });

  it('a token without jti, logged out, stays refused under every other spelling of its signature', async () => {
    const now = nowSec();
    const token = sign({ iat: now, exp: now + 600, n: randomBytes(4).toString('hex') });
    const variant = reencodeSignature(token);
    expect((await proxied(token)).status).toBe(200);
    expect((await logout(token)).status).toBe(200);
    expect((await proxied(token)).status).toBe(401);
    expect((await proxied(variant)).status).toBe(401);
    expect((await logout(variant)).status).toBe(401);
  });
});

describe('logout', () => {
  it('answers 200 for every token the gateway accepts, and the token is refused after it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          withIat: fc.boolean(),
          withJti: fc.boolean(),
          iatOffset: fc.integer({ min: -TTL, max: 60 }),
          lifetime: fc.oneof(
            fc.integer({ min: -60, max: TTL + 60 }),
            fc.constantFrom(2 ** 31, 2 ** 53, 1e20, Number.MAX_VALUE),
          ),
        }),
        async (t) => {
          const now = nowSec();
          const iat = now + t.iatOffset;
          const token = sign({
            ...(t.withIat ? { iat } : {}),
            exp: iat + t.lifetime,
            ...(t.withJti ? { jti: randomBytes(8).toString('hex') } : { n: randomBytes(8).toString('hex') }),
          });
          const before = await proxied(token);
          expect([200, 401]).toContain(before.status);
          const out = await logout(token);
          // Never a 503 (a revocation TTL Redis refuses) nor anything but 200 or 401.
          expect([200, 401]).toContain(out.status);
          // Accepted a moment ago and refused now: only because it expired in between.
          if (before.status === 200 && out.status === 401) expect(iat + t.lifetime + 30).toBeLessThanOrEqual(nowSec());
          if (out.status === 200) expect((await proxied(token)).status).toBe(401);
        },
      ),
      { numRuns: 25 },
    );
  });
});
