/**
 * Logs (docs/operations.md): the real `serve` process at LOG_LEVEL=debug is put through every path that
 * handles a secret (login, failed login, password change, `?token=` on HTTP and WebSocket routes,
 * node keys, enrollment tokens, key rotation, bootstrap, cookies), then its captured output is
 * searched for each secret — whole and in telling pieces. Audit events must be in the log too.
 */
import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateEnrollmentToken, generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { gatewayEnv, jsonLines, startGateway, type GatewayProcess } from '../helpers/spawn-gateway.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const JWT_SECRET = 'logs-test-jwt-secret-never-logged-0123456';
const BOOTSTRAP = 'logs-test-bootstrap-token-never-logged-42';
const SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function logsEnv(format: 'json' | 'pretty'): Record<string, string | undefined> {
  return gatewayEnv(`logs-${format}`, {
    AUTH_JWT_SECRET: JWT_SECRET,
    AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP,
    IDENTITY_SIGNING_KEY: SIGNING_KEY,
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: format,
    SHUTDOWN_GRACE_SECONDS: '2',
  });
}

/** A WebSocket handshake with `?token=` on a raw socket; resolves with whatever the gateway answered. */
function upgradeWithToken(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () =>
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    let data = '';
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.includes('\r\n\r\n')) s.destroy();
    });
    s.on('error', () => resolve(data));
    s.on('close', () => resolve(data));
    setTimeout(() => s.destroy(), 5000);
  });
}

/** Every secret an exercise handled, plus pieces of it that alone would still be a leak. */
function fragments(secrets: string[]): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    out.add(s);
    const parts = s.split('.');
    if (parts.length === 3) out.add(parts[2] as string); // a JWT's signature
    if (/^g2d[ne]_/.test(s)) out.add(s.slice(5, 30)); // the random body of a node key / enrollment token
  }
  out.add(JWT_SECRET);
  out.add(BOOTSTRAP);
  for (const line of SIGNING_KEY.split('\n')) if (line.length > 20 && !line.startsWith('-----')) out.add(line);
  return [...out];
}

describe('no secret reaches the log', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway(logsEnv('json'));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('after logins, password changes, ?token=, node keys, enrollment, rotation and bootstrap', async () => {
    const secrets: string[] = [];
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    secrets.push(user.password);

    const wrong = `Wrong-${uniq('pw')}`;
    secrets.push(wrong);
    expect(
      (
        await call(`${gw.url}/api/v1/auth/login`, {
          method: 'POST',
          json: { email: user.email, password: wrong, tenant_domain: tenant.domain },
        })
      ).status,
    ).toBe(401);
    const ok = await call(`${gw.url}/api/v1/auth/login`, {
      method: 'POST',
      json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
    });
    expect(ok.status).toBe(200);
    const token: string = ok.body.data.token;
    secrets.push(token);

    expect((await call(`${gw.url}/api/v1/auth/me`, { token })).status).toBe(200);
    // A token in the query string is not honoured outside WebSockets, and must not be logged either way.
    expect((await call(`${gw.url}/api/v1/auth/me?token=${token}`)).status).toBe(401);
    expect((await call(`${gw.url}/api/v1/reports?access_token=${token}&page=2`)).status).toBe(401);
    expect((await call(`${gw.url}/api/v1/reports?a=1&api_key=${token}`)).status).toBe(401);
    const upgraded = await upgradeWithToken(gw.port, `/ws/agent?token=${token}`);
    expect(upgraded).toMatch(/^HTTP\/1\.1 \d{3} /);
    expect((await call(`${gw.url}/ws/agent?token=${token}`)).status).toBeGreaterThanOrEqual(400);
    // A garbage bearer credential is a secret too (it may be someone's real token, mistyped).
    const garbage = `eyJhbGciOiJIUzI1NiJ9.${uniq('garbage')}.${uniq('sig')}`;
    secrets.push(garbage);
    expect(
      (await call(`${gw.url}/api/v1/things`, { token: garbage, headers: { cookie: `session=${garbage}` } })).status,
    ).toBe(401);

    const next = `Fresh-Passphrase-${uniq('np')}`;
    secrets.push(next);
    const changed = await call(`${gw.url}/api/v1/auth/me/password`, {
      method: 'POST',
      token,
      json: { current_password: user.password, new_password: next },
    });
    expect(changed.status).toBe(200);
    secrets.push(changed.body.data.token);
    const wrongCurrent = `Not-Current-${uniq('pw')}`;
    secrets.push(wrongCurrent);
    expect(
      (
        await call(`${gw.url}/api/v1/auth/me/password`, {
          method: 'POST',
          token: changed.body.data.token,
          json: { current_password: wrongCurrent, new_password: next },
        })
      ).status,
    ).toBe(401);
    expect(
      (await call(`${gw.url}/api/v1/auth/logout`, { method: 'POST', token: changed.body.data.token })).status,
    ).toBe(200);

    // Node keys: a valid one, an unknown one, an enrollment, a rotation.
    const key = generateNodeKey();
    secrets.push(key.rawKey);
    const nodes = createNodeStore(db);
    await nodes.create({ tenantId: tenant.id, name: uniq('node'), apiKeyHash: key.hash });
    expect(
      (
        await call(`${gw.url}/api/v1/edge/heartbeat?key=${key.rawKey}`, {
          headers: { authorization: `Bearer ${key.rawKey}` },
        })
      ).status,
    ).toBe(502);
    const unknown = generateNodeKey().rawKey;
    secrets.push(unknown);
    expect(
      (await call(`${gw.url}/api/v1/edge/heartbeat`, { headers: { authorization: `Bearer ${unknown}` } })).status,
    ).toBe(401);
    const enrollment = generateEnrollmentToken();
    secrets.push(enrollment.rawToken);
    await nodes.createEnrollment({
      tenantId: tenant.id,
      name: uniq('enrolled'),
      tokenHash: enrollment.hash,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const registered = await call(`${gw.url}/api/v1/nodes/register`, {
      method: 'POST',
      json: { enrollment_token: enrollment.rawToken },
    });
    expect(registered.status).toBe(201);
    secrets.push(registered.body.data.api_key);
    const badEnrollment = generateEnrollmentToken().rawToken;
    secrets.push(badEnrollment);
    expect(
      (await call(`${gw.url}/api/v1/nodes/register`, { method: 'POST', json: { enrollment_token: badEnrollment } }))
        .status,
    ).toBe(401);
    const rotated = await call(`${gw.url}/api/v1/nodes/rotate-key`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registered.body.data.api_key}` },
    });
    expect(rotated.status).toBe(200);
    secrets.push(rotated.body.data.api_key);

    // Bootstrap: a wrong token in the header (the configured one is checked against it).
    const wrongBootstrap = `wrong-bootstrap-${uniq('b')}`;
    secrets.push(wrongBootstrap);
    const boot = await call(`${gw.url}/api/v1/auth/bootstrap`, {
      method: 'POST',
      headers: { 'x-bootstrap-token': wrongBootstrap },
      json: { email: `${uniq('boot')}@example.test`, password: next },
    });
    expect([401, 403, 409]).toContain(boot.status);

    expect(await gw.stop()).toBe(0); // flushes the asynchronous log destination
    const output = gw.output();
    for (const secret of fragments(secrets)) {
      expect(output.includes(secret), `log contains a secret (${secret.slice(0, 8)}…)`).toBe(false);
    }

    // The log is not empty of substance: one access line per request, redacted URLs, audit events.
    const lines = jsonLines(output);
    const access = lines.filter((l) => l.msg === 'request');
    expect(access.length).toBeGreaterThanOrEqual(18);
    for (const l of access) {
      expect(l).toHaveProperty('reqId');
      expect(l).toHaveProperty('route');
      expect(l).toHaveProperty('status');
      expect(l).toHaveProperty('ms');
      expect(l.trace).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(access.some((l) => l.url === '/api/v1/auth/me?token=[REDACTED]')).toBe(true);
    expect(access.some((l) => l.url === '/api/v1/reports?access_token=[REDACTED]&page=2')).toBe(true);
    expect(access.some((l) => l.sub === user.id && l.tid === tenant.id)).toBe(true);
    const audits = new Set(lines.map((l) => l.audit).filter(Boolean));
    for (const event of [
      'login_failure',
      'login_success',
      'password_change',
      'logout',
      'node_registered',
      'node_key_rotated',
      'node_auth_failure',
    ]) {
      expect(audits.has(event), `audit event ${event} in the log`).toBe(true);
    }
  });
});

describe('LOG_FORMAT=pretty', () => {
  it('is human-readable and redacts the same way', async () => {
    const gw = await startGateway(logsEnv('pretty'));
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const ok = await call(`${gw.url}/api/v1/auth/login`, {
      method: 'POST',
      json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
    });
    const token: string = ok.body.data.token;
    expect((await call(`${gw.url}/api/v1/auth/me?token=${token}`, { token })).status).toBe(200);
    expect(await gw.stop()).toBe(0);
    const output = gw.output();
    expect(output).not.toMatch(/^\{"level"/m);
    expect(output).toContain('token=[REDACTED]');
    for (const secret of fragments([token, user.password])) expect(output.includes(secret)).toBe(false);
  });
});
