/**
 * The second factor end to end (docs/security-model.md, "Second factor (TOTP)"; docs/api.md): two real `serve` processes on one
 * Postgres and one Redis prefix, a recording upstream, the admin CLI, and a scan of every table
 * and of the logs for secrets.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createIdentityVerifier } from '@get2dial/identity-verifier';
import { base32Decode, hotp } from '../../gateway/auth/totp.js';
import { generateSigningKey } from '../../gateway/auth/identity.js';
import { createPg } from '../../gateway/store/pg.js';
import { runCli } from '../helpers/cli.js';
import { call, makeTenant, makeUser, platformTenant } from '../helpers/fixtures.js';
import { startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const SECRET = 'e2e-mfa-secret-e2e-mfa-secret-0123456';
const MFA_KEY = 'e2e-mfa-encryption-key-0123456789abcdef';
const MAX_ATTEMPTS = 3;
const db = createPg({ url: inject('databaseUrl'), poolSize: 4 });
const prefix = `${inject('redisPrefix')}mfa:`;
let a: GatewayProcess;
let b: GatewayProcess;
let upstream: TestUpstream;
/** One identity key for both instances (started together, they would each generate a dev key). */
let signingKey: string;

const env = () => ({
  DATABASE_URL: inject('databaseUrl'),
  REDIS_URL: inject('redisUrl'),
  REDIS_KEY_PREFIX: prefix,
  AUTH_JWT_SECRET: SECRET,
  AUTH_MFA_ENCRYPTION_KEY: MFA_KEY,
  AUTH_MFA_REQUIRED_ROLES: undefined, // the real default: platform_admin
  AUTH_LOGIN_IP_LIMIT: '100000',
  AUTH_LOCKOUT_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  UPSTREAM_URL: upstream.url,
  IDENTITY_SIGNING_KEY: signingKey,
});

beforeAll(async () => {
  upstream = await startTestUpstream();
  signingKey = (await generateSigningKey()).privatePem;
  [a, b] = await Promise.all([startGateway(env()), startGateway(env())]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.stop();
  await db.close();
});

/** The code of `secret` at the current step plus `offset` (±1 is accepted). */
const code = (secret: string, offset = 0) =>
  hotp(base32Decode(secret) as Buffer, Math.floor(Date.now() / 30_000) + offset);

const post = (gw: GatewayProcess, path: string, json: unknown, token?: string) =>
  call(`${gw.url}/api/v1/auth/${path}`, { method: 'POST', json, ...(token ? { token } : {}) });
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

/** A user with TOTP confirmed (at the current step: the next login uses step +1). */
async function enrolled(role: 'agent' | 'admin' = 'agent') {
  const tenant = await makeTenant(db);
  const user = await makeUser(db, tenant, { role });
  const token = (await post(a, 'login', { email: user.email, password: user.password, tenant_domain: tenant.domain }))
    .body.data.token as string;
  const setup = await post(a, 'mfa/totp/setup', undefined, token);
  expect(setup.status).toBe(200);
  const confirm = await post(a, 'mfa/totp/confirm', { code: code(setup.body.data.secret) }, token);
  expect(confirm.status).toBe(200);
  return {
    tenant,
    user,
    token,
    secret: setup.body.data.secret as string,
    recovery: confirm.body.data.recovery_codes as string[],
  };
}

async function passwordStep(
  gw: GatewayProcess,
  u: { user: { email: string; password: string }; tenant: { domain: string } },
) {
  return post(gw, 'login', { email: u.user.email, password: u.user.password, tenant_domain: u.tenant.domain });
}

describe('enrolment', () => {
  it('setup, setup again (replaces), confirm, then 409s; me shows mfa_enabled', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { email: `a+b-${Date.now()}@example.test` });
    const token = (await post(a, 'login', { email: user.email, password: user.password, tenant_domain: tenant.domain }))
      .body.data.token as string;
    expect((await call(`${a.url}/api/v1/auth/me`, { token })).body.data).toMatchObject({ mfa_enabled: false });
    expect((await call(`${a.url}/api/v1/auth/me`, { token })).body.data.mfa_enrollment_required).toBeUndefined();
    expect((await post(a, 'mfa/totp/confirm', { code: '123456' }, token)).status).toBe(409);

    const first = await post(a, 'mfa/totp/setup', undefined, token);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body.data.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    expect(first.body.data.otpauth_uri).toBe(
      `otpauth://totp/Get2Dial:${encodeURIComponent(user.email)}?secret=${first.body.data.secret}&issuer=Get2Dial&algorithm=SHA1&digits=6&period=30`,
    );
    const second = await post(a, 'mfa/totp/setup', undefined, token);
    expect(second.body.data.secret).not.toBe(first.body.data.secret);
    // The replaced secret no longer confirms (a wrong code: 401, counted).
    expect((await post(a, 'mfa/totp/confirm', { code: code(first.body.data.secret) }, token)).status).toBe(401);
    const confirm = await post(b, 'mfa/totp/confirm', { code: code(second.body.data.secret) }, token);
    expect(confirm.status).toBe(200);
    const codes = confirm.body.data.recovery_codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    expect((await post(a, 'mfa/totp/setup', undefined, token)).status).toBe(409);
    expect((await post(a, 'mfa/totp/confirm', { code: code(second.body.data.secret, 1) }, token)).status).toBe(409);
    expect((await call(`${b.url}/api/v1/auth/me`, { token })).body.data).toMatchObject({ mfa_enabled: true });
    await waitFor(
      async () => {
        const { rows } = await db.query<{ event: string }>('SELECT event FROM auth_events WHERE user_id = $1', [
          user.id,
        ]);
        const names = rows.map((r) => r.event);
        return names.includes('mfa_enabled') && names.includes('mfa_failure');
      },
      { what: 'mfa_enabled and mfa_failure audit rows' },
    );
  });

  it('turning it off takes a current code (or a recovery code); afterwards the password alone logs in', async () => {
    const u = await enrolled();
    const del = (json: unknown) => call(`${a.url}/api/v1/auth/mfa/totp`, { method: 'DELETE', json, token: u.token });
    expect((await del({ code: '000000' })).status).toBe(401);
    expect((await del({ code: u.recovery[0] })).status).toBe(200);
    expect((await del({ code: u.recovery[1] })).status).toBe(409);
    const login = await passwordStep(a, u);
    expect(Object.keys(login.body.data).sort()).toEqual([
      'expires_at',
      'refresh_expires_at',
      'refresh_token',
      'token',
      'user',
    ]);
  });
});

describe('login with a second factor', () => {
  it('password → mfa_token, verify on the other instance → the password-only login shape with amr pwd,otp', async () => {
    const u = await enrolled();
    const step = await passwordStep(a, u);
    expect(step.status).toBe(200);
    expect(step.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(step.body.data).sort()).toEqual(['expires_at', 'mfa_required', 'mfa_token']);
    expect(step.body.data.mfa_required).toBe(true);
    const done = await post(b, 'mfa/verify', { mfa_token: step.body.data.mfa_token, code: code(u.secret, 1) });
    expect(done.status).toBe(200);
    expect(Object.keys(done.body.data).sort()).toEqual([
      'expires_at',
      'refresh_expires_at',
      'refresh_token',
      'token',
      'user',
    ]);
    expect(done.body.data.user).toMatchObject({ id: u.user.id, email: u.user.email, must_change_password: false });
    expect(claimsOf(done.body.data.token).amr).toEqual(['pwd', 'otp']);
    expect(claimsOf(u.token).amr).toEqual(['pwd']);
    // The session keeps how the user signed in: a refreshed token still says pwd,otp.
    const refreshed = await post(b, 'refresh', { refresh_token: done.body.data.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(claimsOf(refreshed.body.data.token).amr).toEqual(['pwd', 'otp']);
  });

  it('an mfa_token is single-use across instances (two verifies racing: exactly one succeeds)', async () => {
    const u = await enrolled();
    const step = await passwordStep(a, u);
    const body = { mfa_token: step.body.data.mfa_token, code: u.recovery[0] };
    const results = await Promise.all([post(a, 'mfa/verify', body), post(b, 'mfa/verify', body)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const again = await post(a, 'mfa/verify', { mfa_token: step.body.data.mfa_token, code: u.recovery[1] });
    expect(again.status).toBe(401);
    expect(again.body).toEqual({ status: 'error', message: 'invalid credentials' });
  });

  it('a TOTP code is accepted once per user: the replay on the other instance is 401', async () => {
    const u = await enrolled();
    const [s1, s2] = [await passwordStep(a, u), await passwordStep(b, u)];
    const c = code(u.secret, 1);
    expect((await post(a, 'mfa/verify', { mfa_token: s1.body.data.mfa_token, code: c })).status).toBe(200);
    expect((await post(b, 'mfa/verify', { mfa_token: s2.body.data.mfa_token, code: c })).status).toBe(401);
    // An older step than the last accepted one is refused too.
    const s3 = await passwordStep(a, u);
    expect((await post(a, 'mfa/verify', { mfa_token: s3.body.data.mfa_token, code: code(u.secret, 0) })).status).toBe(
      401,
    );
  });

  it('a recovery code works once (any case, with or without dashes) and is audited', async () => {
    const u = await enrolled();
    const typed = (u.recovery[2] as string).replaceAll('-', '').toUpperCase();
    const s1 = await passwordStep(a, u);
    expect((await post(a, 'mfa/verify', { mfa_token: s1.body.data.mfa_token, code: typed })).status).toBe(200);
    const s2 = await passwordStep(b, u);
    expect((await post(b, 'mfa/verify', { mfa_token: s2.body.data.mfa_token, code: u.recovery[2] })).status).toBe(401);
    const events = await waitFor(
      async () => {
        const { rows } = await db.query<{ event: string }>(
          "SELECT event FROM auth_events WHERE user_id = $1 AND event IN ('recovery_code_used', 'mfa_failure')",
          [u.user.id],
        );
        return rows.length >= 2 ? rows.map((r) => r.event).sort() : null;
      },
      { what: 'recovery_code_used and mfa_failure audit rows' },
    );
    expect(events).toEqual(['mfa_failure', 'recovery_code_used']);
  });

  it(`password-then-wrong-code locks the account at exactly ${MAX_ATTEMPTS} (a right password in between resets nothing)`, async () => {
    const u = await enrolled();
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      const step = await passwordStep(i % 2 ? a : b, u);
      expect(step.status, `password step ${i}`).toBe(200);
      expect(step.body.data.mfa_required).toBe(true);
      const wrong = await post(i % 2 ? b : a, 'mfa/verify', { mfa_token: step.body.data.mfa_token, code: '000000' });
      expect(wrong.status, `wrong code ${i}`).toBe(401);
    }
    const locked = await passwordStep(a, u);
    expect(locked.status).toBe(403);
    expect(locked.body).toEqual({ status: 'error', message: 'account temporarily locked' });
    expect(locked.headers.get('retry-after')).toBeTruthy();
  });

  it('bad input is 400/401 in the envelope, never 500', async () => {
    const u = await enrolled();
    const step = await passwordStep(a, u);
    const t = step.body.data.mfa_token as string;
    for (const bad of [
      'abcdef',
      '12345',
      '1234567',
      ' 123456',
      '9'.repeat(10_000),
      'aaaa-bbbb',
      'aaaa-bbbb-cccc-dddd-eeee',
      'aaaa-bbbb-cccc-ddd1',
      '',
    ]) {
      const res = await post(a, 'mfa/verify', { mfa_token: t, code: bad });
      expect(res.status, JSON.stringify(bad.slice(0, 20))).toBe(400);
      expect(res.body).toEqual({ status: 'error', message: 'invalid request body' });
    }
    expect((await post(a, 'mfa/verify', { mfa_token: t, code: '123456', extra: 1 })).status).toBe(400);
    expect((await post(a, 'mfa/verify', { mfa_token: t, code: 123456 })).status).toBe(400);
    expect((await post(a, 'mfa/verify', { code: '123456' })).status).toBe(400);
    expect((await post(a, 'mfa/totp/confirm', { code: '123456', x: 1 }, u.token)).status).toBe(400);
    expect((await post(a, 'mfa/totp/confirm', { code: u.recovery[0] }, u.token)).status).toBe(400);
    const unknown = await post(a, 'mfa/verify', { mfa_token: `g2dm_${'A'.repeat(43)}`, code: '123456' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await post(a, 'mfa/verify', { mfa_token: 'junk', code: '123456' })).status).toBe(401);
    // The malformed attempts spent nothing: the token still works.
    expect((await post(a, 'mfa/verify', { mfa_token: t, code: code(u.secret, 1) })).status).toBe(200);
    expect((await post(a, 'mfa/totp/setup', undefined)).status).toBe(401);
  });
});

describe('AUTH_MFA_REQUIRED_ROLES (default platform_admin)', () => {
  it('restricts a platform admin without MFA to me, enrolment and logout; nothing reaches the upstream', async () => {
    const platform = await platformTenant(db);
    const admin = await makeUser(db, platform, { role: 'platform_admin' });
    const token = (
      await post(a, 'login', { email: admin.email, password: admin.password, tenant_domain: platform.domain })
    ).body.data.token as string;
    const before = upstream.received.length;
    for (const gw of [a, b]) {
      const res = await call(`${gw.url}/api/v1/calls`, { token });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ status: 'error', message: 'mfa enrollment required' });
    }
    expect(upstream.received.length).toBe(before);
    expect((await post(a, 'ws-ticket', undefined, token)).status).toBe(403);
    expect(
      (
        await post(
          a,
          'me/password',
          { current_password: admin.password, new_password: 'a-new-long-passphrase-1' },
          token,
        )
      ).status,
    ).toBe(403);
    expect((await call(`${a.url}/api/v1/auth/me`, { token })).body.data).toMatchObject({
      mfa_enabled: false,
      mfa_enrollment_required: true,
    });

    const setup = await post(a, 'mfa/totp/setup', undefined, token);
    const confirm = await post(a, 'mfa/totp/confirm', { code: code(setup.body.data.secret) }, token);
    expect(confirm.status).toBe(200);
    const me = await call(`${a.url}/api/v1/auth/me`, { token });
    expect(me.body.data.mfa_enabled).toBe(true);
    expect(me.body.data.mfa_enrollment_required).toBeUndefined();
    // Enrolled: the same token is no longer restricted (at once here, within the status cache elsewhere).
    expect((await call(`${a.url}/api/v1/calls`, { token })).status).toBe(200);
    // The role requires MFA: it cannot be turned off.
    const del = await call(`${a.url}/api/v1/auth/mfa/totp`, {
      method: 'DELETE',
      json: { code: confirm.body.data.recovery_codes[0] },
      token,
    });
    expect(del.status).toBe(403);
    expect((await post(a, 'logout', undefined, token)).status).toBe(200);
  });
});

describe('upstreams learn the factor', () => {
  it('X-G2D-Auth-Methods and the assertion amr agree; a client cannot send its own', async () => {
    const verifier = createIdentityVerifier({
      jwksUrl: `${a.url}/.well-known/jwks.json`,
      audience: 'get2dial-upstream',
    });
    const u = await enrolled('admin');
    const step = await passwordStep(a, u);
    const full = (await post(a, 'mfa/verify', { mfa_token: step.body.data.mfa_token, code: code(u.secret, 1) })).body
      .data.token as string;
    for (const [token, want] of [
      [u.token, 'pwd'],
      [full, 'pwd,otp'],
    ] as const) {
      const res = await call(`${b.url}/api/v1/calls`, { token, headers: { 'X-G2D-Auth-Methods': 'pwd,otp,hwk' } });
      expect(res.status).toBe(200);
      const seen = upstream.received.at(-1)?.headers ?? {};
      expect(seen['x-g2d-auth-methods']).toBe(want);
      const identity = await verifier.verify(seen);
      expect(identity.kind === 'user' && identity.amr.join(',')).toBe(want);
      await expect(
        verifier.verify({ ...seen, 'x-g2d-auth-methods': want === 'pwd' ? 'pwd,otp' : 'pwd' }),
      ).rejects.toMatchObject({ code: 'mismatch' });
    }
  });
});

describe('secrets at rest and in logs', () => {
  it('no table column and no log line holds the TOTP secret or a recovery code', async () => {
    const u = await enrolled();
    const step = await passwordStep(a, u);
    expect((await post(b, 'mfa/verify', { mfa_token: step.body.data.mfa_token, code: u.recovery[3] })).status).toBe(
      200,
    );
    const raw = base32Decode(u.secret) as Buffer;
    const needles = [
      u.secret,
      u.secret.toLowerCase(),
      raw.toString('hex'),
      raw.toString('base64'),
      step.body.data.mfa_token as string,
    ];
    for (const c of u.recovery)
      needles.push(c, c.replaceAll('-', ''), c.toUpperCase(), c.replaceAll('-', '').toUpperCase());
    const { rows: columns } = await db.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'jsonb', 'json', 'character varying')`,
    );
    expect(columns.map((c) => c.table_name)).toEqual(
      expect.arrayContaining(['user_mfa', 'mfa_recovery_codes', 'auth_events', 'users']),
    );
    for (const { table_name: t, column_name: c } of columns) {
      // bytea reads as `\x<hex>`: the raw secret's hex among the needles catches it stored in plain.
      const { rows } = await db.query<{ v: string | null }>(`SELECT "${c}"::text AS v FROM "${t}"`);
      for (const row of rows)
        for (const n of needles) expect(row.v?.includes(n) ?? false, `${t}.${c} holds a secret`).toBe(false);
    }
    const logs = a.output() + b.output();
    for (const n of needles) expect(logs.includes(n), 'a log line holds a secret').toBe(false);
  });
});

describe('cli user mfa-reset and the production start check', () => {
  it('resets a user (audited): MFA off, the password alone logs in again', async () => {
    const u = await enrolled();
    const out = await runCli(['user', 'mfa-reset', '--tenant', u.tenant.domain, '--email', u.user.email]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ email: u.user.email, mfa_reset: true });
    expect(Object.keys((await passwordStep(a, u)).body.data).sort()).toEqual([
      'expires_at',
      'refresh_expires_at',
      'refresh_token',
      'token',
      'user',
    ]);
    const events = await db.query<{ detail: { by?: string } }>(
      "SELECT detail FROM auth_events WHERE user_id = $1 AND event = 'mfa_disabled'",
      [u.user.id],
    );
    expect(events.rows.map((r) => r.detail.by)).toEqual(['cli']);
  });

  it('production refuses to start without AUTH_MFA_ENCRYPTION_KEY once a user has MFA', async () => {
    await enrolled();
    const started = startGateway(
      { ...env(), NODE_ENV: 'production', AUTH_MFA_ENCRYPTION_KEY: undefined },
      { timeoutMs: 15_000 },
    );
    await expect(started).rejects.toThrow(/AUTH_MFA_ENCRYPTION_KEY is required/);
  });
});
