/**
 * SIGHUP reload (docs/operations.md) on the real `serve` process: a changed GATEWAY_ROUTES_FILE or
 * AUTH_JWT_PREVIOUS_SECRETS_FILE takes effect; an invalid one leaves the old table and keys serving
 * and says why in one error line that carries no secret.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateSigningKey } from '../../gateway/auth/identity.js';
import { createPg } from '../../gateway/store/pg.js';
import { makeTenant, makeUser } from '../helpers/fixtures.js';
import { jsonLines, startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const SECRET = 'reload-test-current-secret-0123456789abcdef';
const OLD_SECRET = 'reload-test-older-secret-0123456789abcdef';
const NEW_PREVIOUS = 'reload-test-added-previous-secret-0123456789';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const dir = mkdtempSync(join(tmpdir(), 'g2d-reload-'));
const routesFile = join(dir, 'routes.json');
const secretsFile = join(dir, 'previous-secrets');
const publicKeysFile = join(dir, 'previous-public-keys');
let upstream: TestUpstream;
let gw: GatewayProcess;

beforeAll(async () => {
  upstream = await startTestUpstream();
  writeFileSync(routesFile, JSON.stringify([{ prefix: '/alpha', auth: 'public', upstream: upstream.url }]));
  writeFileSync(secretsFile, `${OLD_SECRET}\n`);
  writeFileSync(publicKeysFile, '');
  gw = await startGateway({
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}reload:`,
    AUTH_JWT_SECRET: SECRET,
    AUTH_JWT_PREVIOUS_SECRETS_FILE: secretsFile,
    GATEWAY_ROUTES_FILE: routesFile,
    IDENTITY_PREVIOUS_PUBLIC_KEYS_FILE: publicKeysFile,
  });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.stop();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const status = async (path: string, token?: string) =>
  (await fetch(`${gw.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})).status;

/** Sends SIGHUP and waits for the `n`-th reload log line (success or failure). */
async function hangUp(): Promise<Record<string, unknown>> {
  const before = reloadLines().length;
  gw.child.kill('SIGHUP');
  return waitFor(() => reloadLines()[before], { what: 'a reload log line' });
}

function reloadLines() {
  return jsonLines(gw.output()).filter((l) => typeof l.msg === 'string' && /^reload(ed| failed)/.test(l.msg));
}

describe('SIGHUP reload', () => {
  it('swaps in a changed route table, and keeps the old one when the new file is invalid', async () => {
    expect(await status('/alpha/x')).toBe(200);
    expect(await status('/beta/x')).toBe(404);

    writeFileSync(routesFile, JSON.stringify([{ prefix: '/beta', auth: 'public', upstream: upstream.url }]));
    const ok = await hangUp();
    expect(ok).toMatchObject({
      level: 'info',
      msg: 'reloaded routes and rotation keys',
      routes: { added: 1, removed: 1 },
    });
    expect(await status('/beta/x')).toBe(200);
    expect(await status('/alpha/x')).toBe(404);

    for (const bad of ['[{"prefix": "/gamma", "auth": "everyone"}]', '{ not json', '']) {
      writeFileSync(routesFile, bad);
      const failed = await hangUp();
      expect(failed).toMatchObject({ level: 'error', msg: 'reload failed: keeping the current routes and keys' });
      expect(JSON.stringify(failed.problems)).toMatch(/GATEWAY_ROUTES_FILE/);
      expect(await status('/beta/x')).toBe(200);
      expect(await status('/gamma/x')).toBe(404);
    }
    writeFileSync(routesFile, JSON.stringify([{ prefix: '/beta', auth: 'public', upstream: upstream.url }]));
    expect((await hangUp()).msg).toBe('reloaded routes and rotation keys');
  });

  it('accepts a token signed with a newly added previous secret after SIGHUP, and refuses it once removed', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    // A UUIDv7 jti dates the token to the millisecond, as the gateway's own do: with whole-second
    // `iat` alone it would look older than the user's password (set a moment ago) and be refused.
    const mint = (secret: string) =>
      new SignJWT({ tid: tenant.id, email: user.email, role: user.role })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(user.id)
        .setIssuer('get2dial')
        .setAudience('get2dial-control')
        .setIssuedAt()
        .setExpirationTime('10m')
        .setJti(uuidv7())
        .sign(new TextEncoder().encode(secret));
    const token = await mint(NEW_PREVIOUS);
    expect(await status('/api/v1/auth/me', await mint(OLD_SECRET))).toBe(200);
    expect(await status('/api/v1/auth/me', token)).toBe(401);

    writeFileSync(secretsFile, `${OLD_SECRET},${NEW_PREVIOUS}\n`);
    expect(await hangUp()).toMatchObject({
      msg: 'reloaded routes and rotation keys',
      previousSecrets: { total: 2, added: 1, removed: 0 },
    });
    expect(await status('/api/v1/auth/me', token)).toBe(200);

    // Invalid (a key under 16 bytes): the old list stays, the token still works.
    writeFileSync(secretsFile, `${NEW_PREVIOUS},short\n`);
    const failed = await hangUp();
    expect(failed).toMatchObject({
      level: 'error',
      problems: ['AUTH_JWT_PREVIOUS_SECRETS: every key must be at least 16 bytes'],
    });
    expect(await status('/api/v1/auth/me', token)).toBe(200);

    // Removed: refused from the next request on, although it was verified (and cached) before.
    writeFileSync(secretsFile, `${OLD_SECRET}\n`);
    expect(await hangUp()).toMatchObject({ previousSecrets: { total: 1, added: 0, removed: 1 } });
    expect(await status('/api/v1/auth/me', token)).toBe(401);

    // Nothing secret ever reached the log.
    for (const s of [SECRET, OLD_SECRET, NEW_PREVIOUS]) expect(gw.output()).not.toContain(s);
  });

  it('publishes a newly added previous identity public key in the JWKS, and keeps the set when a key is bad', async () => {
    const kids = async () =>
      ((await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map(
        (k) => k.kid,
      );
    const [current] = await kids();
    const older = await generateSigningKey();
    writeFileSync(publicKeysFile, older.publicPem);
    expect(await hangUp()).toMatchObject({
      msg: 'reloaded routes and rotation keys',
      previousPublicKeys: { total: 1, added: 1 },
      jwksKeys: { after: 2 },
    });
    expect(await kids()).toEqual([current, older.kid]);

    writeFileSync(publicKeysFile, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
    const failed = await hangUp();
    expect(failed).toMatchObject({ level: 'error', msg: 'reload failed: keeping the current routes and keys' });
    expect(JSON.stringify(failed.problems)).toMatch(/IDENTITY_PREVIOUS_PUBLIC_KEYS\[0\]/);
    expect(await kids()).toEqual([current, older.kid]);
  });
});
