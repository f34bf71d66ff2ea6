/**
 * WebSocket tickets and node-key rotation derivation as units: the real in-process state store
 * and real crypto, time moved with the injected clock (docs/api.md, docs/edge-nodes.md).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../gateway/clock.js';
import { createNodeKeyDeriver } from '../../gateway/auth/node-key-rotation.js';
import { hashKey, NODE_KEY_RE } from '../../gateway/auth/node-keys.js';
import type { UserIdentity } from '../../gateway/auth/types.js';
import { createWsTickets, TICKET_RE } from '../../gateway/auth/ws-tickets.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const identity = (exp: number, sid?: string): UserIdentity => ({
  kind: 'user',
  tenantId: '22222222-2222-4222-8222-222222222222',
  homeTenantId: '11111111-1111-4111-8111-111111111111',
  userId: '33333333-3333-4333-8333-333333333333',
  email: 'a@b.test',
  role: 'platform_admin',
  jti: 'jti-1',
  iat: START / 1000 - 10,
  exp,
  ...(sid ? { sid } : {}),
});

describe('createWsTickets', () => {
  it('binds user, session, acting tenant, jti and exp; single use', async () => {
    const clock = manualClock(START);
    const tickets = createWsTickets({ state: createMemoryStateStore(clock), clock }, { ttlSeconds: 30 });
    const issued = await tickets.issue(identity(START / 1000 + 3600, 'sess-1'));
    expect(issued.ticket).toMatch(TICKET_RE);
    expect(issued.expiresAt).toBe('2026-01-01T12:00:30Z');
    const grant = await tickets.redeem(issued.ticket);
    expect(grant).toEqual({
      tenantId: '22222222-2222-4222-8222-222222222222',
      claims: {
        tid: '11111111-1111-4111-8111-111111111111',
        sub: '33333333-3333-4333-8333-333333333333',
        email: 'a@b.test',
        role: 'platform_admin',
        jti: 'jti-1',
        iat: START / 1000 - 10,
        exp: START / 1000 + 3600,
        sid: 'sess-1',
      },
    });
    expect(await tickets.redeem(issued.ticket)).toBeNull();
  });

  it('expires after its TTL on the injected clock, and never outlives the access token', async () => {
    const clock = manualClock(START);
    const tickets = createWsTickets({ state: createMemoryStateStore(clock), clock }, { ttlSeconds: 5 });
    const a = await tickets.issue(identity(START / 1000 + 3600));
    clock.advance(4_900);
    const b = await tickets.issue(identity(START / 1000 + 3600));
    clock.advance(200);
    expect(await tickets.redeem(a.ticket)).toBeNull();
    expect(await tickets.redeem(b.ticket)).not.toBeNull();
    const short = await tickets.issue(identity(Math.floor(clock.now() / 1000) + 2));
    expect(Date.parse(short.expiresAt)).toBeLessThanOrEqual(clock.now() + 2_000);
    clock.advance(2_100);
    expect(await tickets.redeem(short.ticket)).toBeNull();
  });

  it('refuses junk without touching the store, and a TTL over 30 s at construction', async () => {
    const clock = manualClock(START);
    const state = createMemoryStateStore(clock);
    const tickets = createWsTickets(
      { state: { ...state, takeMarker: () => Promise.reject(new Error('store touched')) }, clock },
      { ttlSeconds: 30 },
    );
    for (const junk of [
      '',
      'g2dt_',
      `g2dt_${'a'.repeat(42)}`,
      `g2dt_${'a'.repeat(44)}`,
      'x'.repeat(100_000),
      `g2dt_${'a'.repeat(42)}\n`,
    ]) {
      expect(await tickets.redeem(junk)).toBeNull();
    }
    expect(() => createWsTickets({ state, clock }, { ttlSeconds: 31 })).toThrow(/ttlSeconds/);
    expect(() => createWsTickets({ state, clock }, { ttlSeconds: 0 })).toThrow(/ttlSeconds/);
  });
});

describe('createNodeKeyDeriver', () => {
  const old = `g2dn_${randomBytes(32).toString('base64url')}`;

  it('derives a well-formed key, the same one again from the same key and nonce, another from another nonce', () => {
    const deriver = createNodeKeyDeriver(['secret-one-secret-one-secret-one']);
    const first = deriver.rotate(old);
    expect(first.rawKey).toMatch(NODE_KEY_RE);
    expect(first.hash).toBe(hashKey(first.rawKey));
    expect(deriver.rederive(old, first.nonce, first.hash)).toBe(first.rawKey);
    const second = deriver.rotate(old);
    expect(second.rawKey).not.toBe(first.rawKey);
    // Another presented key (a thief without the old key) derives nothing that matches.
    expect(deriver.rederive(`g2dn_${randomBytes(32).toString('base64url')}`, first.nonce, first.hash)).toBeNull();
  });

  it('a retry still re-derives after AUTH_JWT_SECRET rotated, from AUTH_JWT_PREVIOUS_SECRETS; with neither secret, null', () => {
    const before = createNodeKeyDeriver(['secret-one-secret-one-secret-one']);
    const rotated = before.rotate(old);
    const after = createNodeKeyDeriver(['secret-two-secret-two-secret-two', 'secret-one-secret-one-secret-one']);
    expect(after.rederive(old, rotated.nonce, rotated.hash)).toBe(rotated.rawKey);
    expect(
      createNodeKeyDeriver(['secret-two-secret-two-secret-two']).rederive(old, rotated.nonce, rotated.hash),
    ).toBeNull();
  });
});
