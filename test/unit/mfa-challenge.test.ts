import { describe, expect, it } from 'vitest';
import { createSecretBox } from '../../gateway/auth/mfa-crypto.js';
import { createMfaService } from '../../gateway/auth/mfa.js';
import type { MfaStore } from '../../gateway/store/mfa.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';

/** The login challenge only touches the state store; the Postgres side is exercised in test/e2e/mfa.test.ts. */
const noStore = {} as MfaStore;

function service(start = 1_700_000_000_000) {
  let now = start;
  const clock = { now: () => now };
  const svc = createMfaService({
    store: noStore,
    box: createSecretBox('k'.repeat(40)),
    state: createMemoryStateStore(clock),
    clock,
  });
  return { svc, advance: (ms: number) => (now += ms) };
}

describe('mfa_token (the login challenge)', () => {
  const who = { userId: '00000000-0000-4000-8000-000000000001', tenantId: '00000000-0000-4000-8000-000000000002' };

  it('is opaque, single-use and bound to the user', async () => {
    const { svc } = service();
    const { mfaToken, expiresAt } = await svc.issueChallenge(who, '127.0.0.1');
    expect(mfaToken).toMatch(/^g2dm_[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe('2023-11-14T22:18:20Z');
    expect(await svc.takeChallenge(mfaToken, '127.0.0.1')).toEqual(who);
    expect(await svc.takeChallenge(mfaToken, '127.0.0.1')).toBeNull();
  });

  it('is bound to the IP family of the password step (v4-mapped counts as v4)', async () => {
    const { svc } = service();
    const v4 = await svc.issueChallenge(who, '203.0.113.9');
    expect(await svc.takeChallenge(v4.mfaToken, '2001:db8::1')).toBeNull();
    const v4b = await svc.issueChallenge(who, '203.0.113.9');
    expect(await svc.takeChallenge(v4b.mfaToken, '::ffff:198.51.100.7')).toEqual(who);
    const v6 = await svc.issueChallenge(who, '::1');
    expect(await svc.takeChallenge(v6.mfaToken, '127.0.0.1')).toBeNull();
  });

  it('expires after 5 minutes', async () => {
    const { svc, advance } = service();
    const early = await svc.issueChallenge(who, '127.0.0.1');
    const late = await svc.issueChallenge(who, '127.0.0.1');
    advance(299_000);
    expect(await svc.takeChallenge(early.mfaToken, '127.0.0.1')).toEqual(who);
    advance(2_000);
    expect(await svc.takeChallenge(late.mfaToken, '127.0.0.1')).toBeNull();
  });

  it('refuses anything not shaped like a token without touching the store', async () => {
    const { svc } = service();
    for (const junk of ['', 'g2dm_', 'x'.repeat(10_000), `g2dm_${'A'.repeat(42)}`, `g2dt_${'A'.repeat(43)}`])
      expect(await svc.takeChallenge(junk, '127.0.0.1')).toBeNull();
  });
});
