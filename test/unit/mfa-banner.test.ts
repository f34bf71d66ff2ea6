import { describe, expect, it } from 'vitest';
import { mfaLines, renderBanner, type BannerInput } from '../../gateway/quickstart/banner.js';
import { DEMO_USERS } from '../../gateway/quickstart/seed.js';

const input: BannerInput = {
  gatewayUrl: 'http://127.0.0.1:8080',
  upstreamUrl: 'http://127.0.0.1:9090',
  upstreamIsStub: true,
  dataDir: '/tmp/x',
  embeddedDatabase: true,
  memoryState: true,
  users: DEMO_USERS,
  node: { name: 'demo-node', apiKey: 'g2dn_x' },
  startedInMs: 1000,
  cliCommand: null,
};

describe('quickstart banner and the MFA requirement', () => {
  it('shows how the demo platform admin enrols, and how to turn the requirement off', () => {
    const text = renderBanner({ ...input, mfaRequiredRoles: ['platform_admin'] });
    expect(text).toContain('/api/v1/auth/mfa/totp/setup');
    expect(text).toContain('/api/v1/auth/mfa/totp/confirm');
    expect(text).toContain('AUTH_MFA_REQUIRED_ROLES= (empty)');
    expect(text).toContain(DEMO_USERS.find((u) => u.role === 'platform_admin')?.email ?? 'missing');
  });
  it('says nothing about MFA when no demo role requires it', () => {
    expect(mfaLines({ ...input, mfaRequiredRoles: [] })).toEqual([]);
    expect(renderBanner(input)).not.toContain('mfa/totp');
  });
});
