/**
 * Password admission control end to end: with PASSWORD_HASH_CONCURRENCY=1 and
 * PASSWORD_HASH_QUEUE_MAX=1, at most two logins are in progress; a burst beyond that is shed with
 * 503 + Retry-After before the attempt is counted, so shedding can neither lock an account nor
 * leave clients queueing for minutes.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { spawnGateway, type GatewayProcess } from '../helpers/spawn-gateway.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let gw: GatewayProcess;

const login = (json: unknown) => call(`${gw.url}/api/v1/auth/login`, { method: 'POST', json });

beforeAll(async () => {
  gw = await spawnGateway('shed', {
    AUTH_LOGIN_IP_LIMIT: '100000',
    PASSWORD_HASH_CONCURRENCY: '1',
    PASSWORD_HASH_QUEUE_MAX: '1',
  });
});

afterAll(async () => {
  await gw?.stop();
  await db.close();
});

describe('login under a storm', () => {
  it('sheds what exceeds concurrency + queue with 503 and Retry-After, and serves the rest', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => login({ email: user.email, password: user.password })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses).toContain(200);
    const shed = results.filter((r) => r.status === 503);
    expect(shed.length).toBeGreaterThan(0);
    for (const r of shed) {
      expect(r.body).toEqual({ status: 'error', message: 'service unavailable' });
      expect(r.headers.get('retry-after')).toBe('1');
    }
  });

  it('does not count shed attempts toward the lockout', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    // 30 wrong guesses at once: if every one counted, the account would lock at 10.
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login({ email: user.email, password: `wrong-guess-${i}` })),
    );
    const counted = results.filter((r) => r.status === 401).length;
    expect(counted + results.filter((r) => r.status === 503).length).toBe(30);
    expect(counted).toBeLessThan(10);
    const ok = await login({ email: user.email, password: user.password });
    expect(ok.status).toBe(200);
  });
});
