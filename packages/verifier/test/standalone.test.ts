/**
 * The package stands alone: its manifest depends on jose and nothing else, and its build, laid out
 * as `npm install @get2dial/identity-verifier` would lay it out (its `files`, then jose beside it,
 * nothing of the gateway), is imported by a plain Node process in a fresh temporary directory and
 * verifies an assertion there. No network: jose is copied from this checkout.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const PKG = join(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as {
  name: string;
  dependencies: Record<string, string>;
  files: string[];
  exports: Record<string, { types: string; default: string } | string>;
  types: string;
};
const require = createRequire(import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), 'g2d-verifier-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CHECK = `
import { createIdentityVerifier, IDENTITY_HEADERS } from '@get2dial/identity-verifier';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
const now = Math.floor(Date.now() / 1000);
const jws = await new SignJWT({ kind: 'node', tid: 't1', nid: 'n1' })
  .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: 'JWT' })
  .setIssuer('get2dial-gateway').setAudience('aud').setSubject('n1').setIssuedAt(now).setExpirationTime(now + 60)
  .sign(privateKey);
const verifier = createIdentityVerifier({ keys: [jwk], audience: 'aud' });
const identity = await verifier.verify({ [IDENTITY_HEADERS.assertion]: jws, 'x-g2d-auth': 'node', 'x-g2d-tenant-id': 't1', 'x-g2d-node-id': 'n1' });
process.stdout.write(JSON.stringify(identity));
`;

describe('@get2dial/identity-verifier as a standalone package', () => {
  it('depends on jose alone', () => {
    expect(manifest.name).toBe('@get2dial/identity-verifier');
    expect(Object.keys(manifest.dependencies)).toEqual(['jose']);
    expect(manifest).not.toHaveProperty('peerDependencies');
  });

  it('builds on its own and is importable where only jose is installed', () => {
    const installed = join(tmp, 'node_modules', '@get2dial', 'identity-verifier');
    mkdirSync(installed, { recursive: true });
    const tsc = require.resolve('typescript/lib/tsc.js');
    execFileSync(process.execPath, [tsc, '-p', join(PKG, 'tsconfig.build.json'), '--outDir', join(installed, 'dist')], {
      stdio: 'pipe',
    });
    cpSync(join(PKG, 'package.json'), join(installed, 'package.json'));
    cpSync(join(PKG, 'README.md'), join(installed, 'README.md'));
    cpSync(join(PKG, 'src'), join(installed, 'src'), { recursive: true });
    // What `files` ships is what the manifest points at.
    const exported = manifest.exports['.'] as { types: string; default: string };
    for (const target of [exported.types, exported.default, manifest.types]) {
      expect(manifest.files.some((f) => target.replace(/^\.\//, '').startsWith(f))).toBe(true);
      expect(existsSync(join(installed, target)), target).toBe(true);
    }
    const jose = dirname(require.resolve('jose/package.json'));
    cpSync(jose, join(tmp, 'node_modules', 'jose'), { recursive: true });
    writeFileSync(join(tmp, 'check.mjs'), CHECK);
    const out = execFileSync(process.execPath, ['check.mjs'], { cwd: tmp, encoding: 'utf8' });
    expect(JSON.parse(out)).toMatchObject({ kind: 'node', tenantId: 't1', nodeId: 'n1' });
  });
});
