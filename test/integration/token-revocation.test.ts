/**
 * Revocation holds for every spelling of a token (RFC 7515 §2, RFC 4648 §3.5): whatever token the
 * verifier accepts — with or without `jti` and `iat`, signed with the current or a previous secret —
 * once it is revoked, no byte string the verifier accepts in its place passes the session check.
 * Real token service, real Redis revocation markers, real Postgres user row.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSessions, type Sessions } from '../../gateway/auth/sessions.js';
import { createTokenService, type TokenService } from '../../gateway/auth/tokens.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createPg } from '../../gateway/store/pg.js';
import { createRedisClient, createRedisStateStore, type RedisClient } from '../../gateway/store/redis.js';
import { createUserStore } from '../../gateway/store/users.js';
import { makeTenant, makeUser } from '../helpers/fixtures.js';

const SECRET = 'revocation-property-secret-0123456789';
const OLD = 'revocation-property-old-secret-98765';
const TTL = 3600;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const jwtConfig = {
  secret: SECRET,
  previousSecrets: [OLD],
  issuer: 'get2dial',
  audience: 'get2dial-control',
  ttlSeconds: TTL,
  clockToleranceSeconds: 30,
};

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let redis: RedisClient;
let prefix: string;
let tokens: TokenService;
let sessions: Sessions;
let user: { id: string; tenantId: string; email: string };

beforeAll(async () => {
  prefix = `${inject('redisPrefix')}revocation:${randomBytes(4).toString('hex')}:`;
  redis = createRedisClient({ url: inject('redisUrl'), keyPrefix: prefix });
  const state = createRedisStateStore(redis, prefix);
  const tenant = await makeTenant(db);
  const made = await makeUser(db, tenant, {
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  });
  // Tokens without iat count as issued up to TTL + leeway before their exp: no password change since.
  await db.query(`UPDATE users SET password_changed_at = '2000-01-01T00:00:00Z' WHERE id = $1`, [made.id]);
  user = { id: made.id, tenantId: tenant.id, email: made.email };
  tokens = createTokenService(jwtConfig, { cacheSize: 0 });
  // No local revocation cache reuse: every check reads Redis, as another instance would.
  sessions = createSessions(
    { state, users: createUserStore(db), log: createLogger({ level: 'silent', format: 'json' }) },
    { revocationCacheMs: 0, statusCacheMs: 0, longestTokenSeconds: TTL + 30 },
  );
});

afterAll(async () => {
  await redis?.quit();
  await db.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function sign(header: unknown, payload: unknown, secret: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/**
 * Other spellings of `token`: each segment with every other last character (the pad bits and the
 * final data bits), with `=` padding, and with one or two characters appended. Any of them that
 * decodes to the same bytes is "the same token"; any other accepted one would be a forgery.
 */
function spellings(token: string): string[] {
  const parts = token.split('.');
  const out: string[] = [];
  parts.forEach((segment, i) => {
    const swap = (next: string) => parts.map((p, j) => (j === i ? next : p)).join('.');
    for (const c of ALPHABET) if (c !== segment.at(-1)) out.push(swap(segment.slice(0, -1) + c));
    out.push(swap(`${segment}=`), swap(`${segment}==`), swap(`${segment}A`), swap(`${segment}AA`));
  });
  return out;
}

const tokenArb = fc.record({
  withJti: fc.boolean(),
  jti: fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/),
  withIat: fc.boolean(),
  /** Seconds before now the token was issued (negative: a clock up to 30 s ahead). */
  age: fc.integer({ min: -30, max: 600 }),
  lifetime: fc.integer({ min: 660, max: TTL }),
  previousSecret: fc.boolean(),
  withTyp: fc.boolean(),
  /** Pads the payload to vary its length mod 4 (which pad bits its last character has). */
  pad: fc.string({ maxLength: 3 }),
});

describe('revocation covers every accepted spelling of a token', () => {
  it('for any token the verifier accepts, after revoke() no accepted spelling passes the session check', async () => {
    await fc.assert(
      fc.asyncProperty(tokenArb, async (t) => {
        const now = Math.floor(Date.now() / 1000);
        const iat = now - t.age;
        const payload = {
          tid: user.tenantId,
          sub: user.id,
          email: user.email,
          role: 'agent',
          iss: 'get2dial',
          aud: 'get2dial-control',
          ...(t.withIat ? { iat } : {}),
          exp: iat + t.lifetime,
          ...(t.withJti ? { jti: `${t.jti}-${randomBytes(6).toString('hex')}` } : {}),
          // A fresh claim per run: a shrinking run that repeats an input still gets a token never revoked.
          nonce: randomBytes(4).toString('hex'),
          ...(t.pad === '' ? {} : { x: t.pad }),
        };
        const token = sign(
          t.withTyp ? { alg: 'HS256', typ: 'JWT' } : { alg: 'HS256' },
          payload,
          t.previousSecret ? OLD : SECRET,
        );
        const original = await tokens.verify(token);
        expect(original.ok).toBe(true);
        if (!original.ok) return;
        expect((await sessions.check(original.claims)).verdict).toBe('ok');
        await sessions.revoke(original.claims);
        expect((await sessions.check(original.claims)).verdict).toBe('revoked');
        for (const spelling of spellings(token)) {
          const verified = await tokens.verify(spelling);
          if (!verified.ok) continue;
          expect((await sessions.check(verified.claims)).verdict, spelling).toBe('revoked');
        }
      }),
      { numRuns: 40 },
    );
  });

  it('revoke() clamps the marker TTL to the longest lifetime, whatever exp says (Redis refuses an expiry past its range)', async () => {
    const claims = {
      tid: user.tenantId,
      sub: user.id,
      email: user.email,
      role: 'agent' as const,
      jti: `huge-${randomBytes(6).toString('hex')}`,
      iat: 0,
      exp: 1e20,
    };
    await sessions.revoke(claims);
    expect((await sessions.check(claims)).verdict).toBe('revoked');
    const ttl = await redis.ttl(`${prefix}revoked:${claims.jti}`);
    expect(ttl).toBeGreaterThan(TTL);
    expect(ttl).toBeLessThanOrEqual(TTL + 30 + 60);
  });
});
