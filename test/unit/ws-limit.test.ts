/**
 * The per-identity WebSocket counter (proxy/ws-limit.ts) and its setting WS_MAX_PER_IDENTITY:
 * whatever order sockets open and close in, an identity never holds more than the limit, a
 * refusal takes no slot, and every release gives back exactly one slot (twice is still once).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../gateway/auth/types.js';
import { ConfigError, loadConfig } from '../../gateway/config/index.js';
import { createWsIdentityLimiter } from '../../gateway/proxy/ws-limit.js';

const user = (userId: string, tenantId = 't1'): Identity => ({
  kind: 'user',
  tenantId,
  homeTenantId: tenantId,
  userId,
  email: 'a@b.test',
  role: 'agent',
  jti: `jti-${userId}`,
  iat: 0,
  exp: 1,
});
const node = (nodeId: string): Identity => ({ kind: 'node', tenantId: 't1', nodeId, nodeName: nodeId });
const IDENTITIES: Identity[] = [user('u1'), user('u1', 't2'), user('u2'), node('u1'), node('n2')];

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('createWsIdentityLimiter', () => {
  it('matches a model counter under any order of opens, closes and double closes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('open' as const), who: fc.integer({ min: 0, max: IDENTITIES.length - 1 }) }),
      fc.record({ kind: fc.constant('close' as const), pick: fc.nat(), twice: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const limiter = createWsIdentityLimiter(max);
        const keyOf = (i: Identity) => (i.kind === 'user' ? `u:${i.userId}` : i.kind === 'node' ? `n:${i.nodeId}` : '');
        const model = new Map<string, number>();
        const held: { release: () => void; key: string }[] = [];
        for (const o of ops) {
          if (o.kind === 'open') {
            const identity = IDENTITIES[o.who] as Identity;
            const key = keyOf(identity);
            const release = limiter.acquire(identity);
            const count = model.get(key) ?? 0;
            expect(release === null).toBe(count >= max);
            if (release) {
              model.set(key, count + 1);
              held.push({ release, key });
            }
          } else if (held.length > 0) {
            const [slot] = held.splice(o.pick % held.length, 1);
            if (!slot) continue;
            slot.release();
            if (o.twice) slot.release();
            model.set(slot.key, (model.get(slot.key) ?? 0) - 1);
          }
          for (const identity of IDENTITIES) {
            expect(limiter.held(identity)).toBe(model.get(keyOf(identity)) ?? 0);
            expect(limiter.held(identity)).toBeLessThanOrEqual(max);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('counts a user across tenants it acts in (one user id), and never counts public routes', () => {
    const limiter = createWsIdentityLimiter(1);
    expect(limiter.acquire(user('u1'))).not.toBeNull();
    expect(limiter.acquire(user('u1', 'other-tenant'))).toBeNull();
    for (let i = 0; i < 5; i += 1) expect(limiter.acquire({ kind: 'public' })).not.toBeNull();
  });

  it('refuses a limit that is not a whole number ≥ 1', () => {
    expect(() => createWsIdentityLimiter(0)).toThrow(TypeError);
    expect(() => createWsIdentityLimiter(1.5)).toThrow(TypeError);
  });
});

describe('WS_MAX_PER_IDENTITY', () => {
  it('defaults to 50 and accepts 1..100000', () => {
    expect(loadConfig({}).wsMaxPerIdentity).toBe(50);
    expect(loadConfig({ WS_MAX_PER_IDENTITY: '3' }).wsMaxPerIdentity).toBe(3);
    expect(loadConfig({ WS_MAX_PER_IDENTITY: '100000' }).wsMaxPerIdentity).toBe(100_000);
  });

  it.each(['0', '-1', 'abc', '2.5', '100001'])('refuses %s with a clear problem', (value) => {
    expect(problemsOf({ WS_MAX_PER_IDENTITY: value })).toEqual([
      expect.stringMatching(/^WS_MAX_PER_IDENTITY: must be a whole number from 1 to 100000/),
    ]);
  });
});
