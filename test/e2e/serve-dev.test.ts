/**
 * docs/configuration.md's development defaults for `npm run serve` (not only `npm start`): with no database,
 * Redis or secrets configured and NODE_ENV unset, the gateway starts on the embedded database
 * (migrated on start) and the in-process store, with secrets generated once in GATEWAY_DATA_DIR
 * and kept across restarts. GATEWAY_WORKERS > 1 refuses the embedded database with a clear error.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/fixtures.js';
import { ROOT, baseEnv, startGateway } from '../helpers/spawn-gateway.js';

const dataDir = mkdtempSync(join(tmpdir(), 'g2d-serve-dev-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm run serve outside production with nothing configured', () => {
  it('serves on the embedded database with generated secrets that survive a restart', async () => {
    const kids: string[] = [];
    for (let run = 0; run < 2; run++) {
      const gw = await startGateway({ GATEWAY_DATA_DIR: dataDir }, { timeoutMs: 60_000 });
      try {
        const ready = await call(`${gw.url}/readyz`);
        expect(ready.status).toBe(200);
        const login = await call(`${gw.url}/api/v1/auth/login`, {
          method: 'POST',
          json: { email: 'nobody@example.test', password: 'not-a-real-password' },
        });
        expect(login.status).toBe(401);
        expect(login.body).toEqual({ status: 'error', message: 'invalid credentials' });
        const jwks = await call(`${gw.url}/.well-known/jwks.json`);
        kids.push(jwks.body.keys[0].kid);
        expect(gw.output()).toContain('single instance only');
      } finally {
        expect(await gw.stop()).toBe(0);
      }
    }
    expect(kids[1]).toBe(kids[0]);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o077).toBe(0);
  }, 120_000);

  it('GATEWAY_WORKERS=2 without DATABASE_URL exits 1 with a clear message', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'gateway.cjs')], {
      cwd: ROOT,
      env: baseEnv({ GATEWAY_DATA_DIR: dataDir, GATEWAY_WORKERS: '2', PORT: '0' }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('GATEWAY_WORKERS > 1 needs DATABASE_URL');
  });
});
