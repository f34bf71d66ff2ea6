/**
 * The lockout model (gateway/store/lock-model.ts, mirrored by the Redis scripts) against a simulated
 * attacker who chooses the order of everything: which workspace a login names, when an attempt in
 * flight settles, whether it ever does (a crashed gateway), and when time passes. Two worlds run the
 * same steps: the victim's account (tenant T, created first) exists in one and not in the other; the
 * attacker owns an account with the same email in tenant A in both. The victim's password is never
 * sent. Checked after every step: the victim's account never sees more than MAX wrong passwords whose
 * outcome was told, and both worlds give the same answers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { beginAttempt, settleAttempt, type LockFields } from '../../gateway/store/lock-model.js';
import type { LockPolicy } from '../../gateway/store/state.js';

const MAX = 3;
const policy: LockPolicy = { max: MAX, windowSeconds: 1_000_000, leaseSeconds: 5 };

type Step =
  | { readonly kind: 'begin'; readonly ws: 'T' | 'A' | 'X' | null; readonly own: boolean }
  | { readonly kind: 'settle'; readonly pick: number }
  | { readonly kind: 'crash-time'; readonly seconds: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('begin' as const),
    ws: fc.constantFrom('T' as const, 'A' as const, 'X' as const, null),
    own: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(20) }),
  fc.record({ kind: fc.constant('crash-time' as const), seconds: fc.constantFrom(1, 6) }),
);

interface Pending {
  readonly id: string;
  readonly ws: 'T' | 'A' | 'X' | null;
  readonly own: boolean;
  readonly only: readonly string[] | undefined;
}

/** One world: the store's fields, a clock, and which accounts exist (oldest first). */
function world(victimExists: boolean) {
  const fields: LockFields = new Map();
  const accounts = victimExists ? ['T', 'A'] : ['A'];
  let now = 1_700_000_000_000;
  let told = 0; // wrong passwords checked against the victim's account whose outcome was told
  let n = 0;
  const pending: Pending[] = [];
  return {
    get told() {
      return told;
    },
    run(s: Step): string {
      if (s.kind === 'crash-time') {
        now += s.seconds * 1000;
        return 'time';
      }
      if (s.kind === 'begin') {
        const id = `l${++n}`;
        const r = beginAttempt(fields, now, s.ws, id, policy);
        if (r.outcome === 'granted') pending.push({ id, ws: s.ws, own: s.own, only: r.only });
        return `${r.outcome}:${r.count}:${r.only?.join(',') ?? ''}`;
      }
      const p = pending.splice(s.pick % Math.max(1, pending.length), 1)[0];
      if (!p) return 'nothing';
      // Accounts the password is checked against, oldest first; only the attacker's own password matches (A).
      const checked = accounts.filter((a) => (p.ws === null ? (p.only ? p.only.includes(a) : true) : a === p.ws));
      const match = p.own ? checked.find((a) => a === 'A') : undefined;
      const r = settleAttempt(
        fields,
        now,
        p.id,
        match ? { kind: 'authenticated', workspace: match } : { kind: 'failed' },
        policy,
      );
      if (!r.settled) return 'expired (503, outcome not told)';
      // A success for A after checking T (older) tells that the password was wrong for T.
      if (checked.includes('T')) told += 1;
      return match ? `200 ${match}` : p.only ? '403' : '401';
    },
  };
}

describe('lockout model: attacker-ordered steps in two worlds', () => {
  it('never tells more than MAX wrong passwords for the victim, and answers alike whether the victim exists', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const [withVictim, without] = [world(true), world(false)];
        for (const s of steps) {
          expect(withVictim.run(s)).toBe(without.run(s));
          expect(withVictim.told).toBeLessThanOrEqual(MAX);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
