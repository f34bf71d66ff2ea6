/**
 * The upstream-side verifier of X-G2D-Identity against a real gateway in process: what the
 * upstream received verifies through the gateway's JWKS URL; tampering, absence and age fail
 * with their documented codes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIdentityVerifier,
  IdentityVerificationError,
  type IdentityVerificationCode,
} from '@get2dial/identity-verifier';
import { startApp, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

let t: TestApp;
let upstream: TestUpstream;
let received: IncomingHttpHeaders;
let userId: string;

beforeAll(async () => {
  upstream = await startTestUpstream();
  t = await startApp({ env: { UPSTREAM_URL: upstream.url } });
  const user = await fastUser(t.db, await makeTenant(t.db), { role: 'supervisor' });
  userId = user.id;
  const r = await call(`${t.url}/api/v1/verify-me`, { token: await tokenFor(t, user) });
  expect(r.status).toBe(200);
  received = upstream.received.at(-1)!.headers;
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

const verifier = (now?: () => number) =>
  createIdentityVerifier({
    jwksUrl: `${t.url}/.well-known/jwks.json`,
    audience: 'get2dial-upstream',
    ...(now ? { now } : {}),
  });

async function codeOf(p: Promise<unknown>): Promise<IdentityVerificationCode | 'ok' | 'other'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof IdentityVerificationError ? err.code : 'other';
  }
}

describe('createIdentityVerifier', () => {
  it('verifies what the upstream received', async () => {
    const id = await verifier().verify(received);
    expect(id).toMatchObject({ kind: 'user', userId, role: 'supervisor' });
  });

  it('a plain header that disagrees with the assertion → mismatch', async () => {
    expect(await codeOf(verifier().verify({ ...received, 'x-g2d-role': 'platform_admin' }))).toBe('mismatch');
  });

  it('no assertion → missing; two → malformed; garbage → malformed or signature', async () => {
    const { ['x-g2d-identity']: assertion, ...rest } = received;
    expect(await codeOf(verifier().verify(rest))).toBe('missing');
    expect(await codeOf(verifier().verify({ ...rest, 'x-g2d-identity': [String(assertion), String(assertion)] }))).toBe(
      'malformed',
    );
    expect(['malformed', 'signature']).toContain(
      await codeOf(verifier().verify({ ...rest, 'x-g2d-identity': 'a.b.c' })),
    );
  });

  it('a flipped signature → signature', async () => {
    const a = String(received['x-g2d-identity']);
    const flipped = a.slice(0, -3) + (a.endsWith('AAA') ? 'BBB' : 'AAA');
    expect(await codeOf(verifier().verify({ ...received, 'x-g2d-identity': flipped }))).toBe('signature');
  });

  it('an old assertion → expired', async () => {
    expect(await codeOf(verifier(() => Date.now() + 10 * 60_000).verify(received))).toBe('expired');
  });

  it('another audience → claims', async () => {
    const v = createIdentityVerifier({ jwksUrl: `${t.url}/.well-known/jwks.json`, audience: 'someone-else' });
    expect(await codeOf(v.verify(received))).toBe('claims');
  });

  it('an audience is required', () => {
    expect(() => createIdentityVerifier({ jwksUrl: `${t.url}/.well-known/jwks.json` })).toThrow(TypeError);
  });
});
