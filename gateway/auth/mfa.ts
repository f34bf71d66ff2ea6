import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { MfaStore } from '../store/mfa.js';
import type { AuthStateStore } from '../store/state.js';
import type { SecretBox } from './mfa-crypto.js';
import { base32Encode, matchTotp, newTotpSecret, otpauthUri, TOTP_PERIOD_SECONDS } from './totp.js';

/** A six-digit TOTP code (RFC 6238 with the defaults authenticator apps use). */
export const TOTP_CODE_RE = /^[0-9]{6}$/;
/** A recovery code as shown (`xxxx-xxxx-xxxx-xxxx`, base32) or typed without dashes, any case. */
export const RECOVERY_CODE_RE = /^[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}$/;
const MFA_TOKEN_RE = /^g2dm_[A-Za-z0-9_-]{43}$/;
export const RECOVERY_CODE_COUNT = 10;
/** How long the password step's `mfa_token` lives. */
export const MFA_TOKEN_TTL_SECONDS = 300;

export type CodeKind = 'totp' | 'recovery';

export interface MfaChallenge {
  readonly userId: string;
  readonly tenantId: string;
}

export interface MfaService {
  /** Whether TOTP is confirmed for the user. */
  enabled(userId: string): Promise<boolean>;
  /** A new pending secret (replacing a pending one); 409 CONFLICT when TOTP is already on. */
  setup(userId: string, email: string): Promise<{ secret: string; otpauthUri: string }>;
  /** 409 when nothing is pending; null for a wrong (or replayed) code; else the recovery codes, shown once. */
  confirm(userId: string, code: string): Promise<string[] | null>;
  /** Checks a TOTP (once per user per time step) or a recovery code (spent) of an enabled user. */
  check(userId: string, code: string): Promise<CodeKind | null>;
  disable(userId: string): Promise<boolean>;
  /** The opaque, single-use token of a correct password awaiting its second factor. */
  issueChallenge(challenge: MfaChallenge, ip: string): Promise<{ mfaToken: string; expiresAt: string }>;
  /** Spends the token (exactly once across every instance); null when unknown, spent, expired or from another IP family. */
  takeChallenge(mfaToken: string, ip: string): Promise<MfaChallenge | null>;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Recovery codes are 80 random bits: a SHA-256 digest is enough at rest (nothing to brute-force). */
export function recoveryCodeHash(code: string): string {
  return digest(`g2d-recovery:${code.replaceAll('-', '').toUpperCase()}`);
}

function newRecoveryCode(): string {
  const raw = base32Encode(randomBytes(10)).toLowerCase();
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8, 12)}-${raw.slice(12, 16)}`;
}

function ipFamily(ip: string): 4 | 6 {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return 4;
  return isIP(ip) === 6 ? 6 : 4;
}

interface StoredChallenge {
  v: 1;
  sub: string;
  tid: string;
  fam: 4 | 6;
  until: number;
}

/**
 * The second factor (docs/security-model.md, "Second factor (TOTP)"; docs/api.md): enrolment, code checks and the login challenge.
 * Secrets live sealed in Postgres (SecretBox), the last accepted time step and the challenges in
 * the shared state store, so every rule holds across gateway instances.
 */
export function createMfaService(deps: {
  store: MfaStore;
  box: SecretBox;
  state: AuthStateStore;
  clock?: Clock;
}): MfaService {
  const { store, box, state } = deps;
  const clock = deps.clock ?? systemClock;

  function open(userId: string, sealed: Buffer): { plain: Buffer; stale: boolean } {
    const opened = box.open(sealed, userId);
    // No configured key opens it: the key was changed without AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS.
    if (!opened)
      throw new GatewayError('SERVICE_UNAVAILABLE', {
        detail: 'mfa: no configured AUTH_MFA_ENCRYPTION_KEY opens this secret',
      });
    return opened;
  }

  /**
   * A TOTP is accepted at most once per user (RFC 6238 §5.2): its step must be later than the last
   * accepted one, and the atomic counter of (user, step) must read 1, so two instances racing on
   * the same code accept it once.
   */
  async function acceptStep(userId: string, secret: Buffer, code: string): Promise<boolean> {
    const step = matchTotp(secret, code, clock.now());
    if (step === null) return false;
    const last = await state.getMarker(`totp:last:${userId}`);
    if (last !== null && Number(last) >= step) return false;
    const { count } = await state.hit(`totp:used:${userId}:${step}`, TOTP_PERIOD_SECONDS * 4);
    if (count !== 1) return false;
    await state.setMarker(`totp:last:${userId}`, String(step), TOTP_PERIOD_SECONDS * 4);
    return true;
  }

  return {
    async enabled(userId) {
      return (await store.get(userId))?.enabled === true;
    },
    async setup(userId, email) {
      const secret = newTotpSecret();
      if (!(await store.setPending(userId, box.seal(secret, userId))))
        throw new GatewayError('CONFLICT', { publicMessage: 'mfa already enabled' });
      const b32 = base32Encode(secret);
      return { secret: b32, otpauthUri: otpauthUri(email, b32) };
    },
    async confirm(userId, code) {
      const row = await store.get(userId);
      if (!row || row.enabled || !row.pendingSealed)
        throw new GatewayError('CONFLICT', {
          publicMessage: row?.enabled ? 'mfa already enabled' : 'no mfa setup pending',
        });
      const { plain } = open(userId, row.pendingSealed);
      if (!(await acceptStep(userId, plain, code))) return null;
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      if (!(await store.enable(userId, row.pendingSealed, codes.map(recoveryCodeHash)))) {
        throw new GatewayError('CONFLICT', { publicMessage: 'no mfa setup pending' });
      }
      return codes;
    },
    async check(userId, code) {
      const row = await store.get(userId);
      if (!row?.enabled || !row.secretSealed) return null;
      if (TOTP_CODE_RE.test(code)) {
        const { plain, stale } = open(userId, row.secretSealed);
        // Rotation: a secret sealed by an older key is sealed again with the current one.
        if (stale) await store.reseal(userId, row.secretSealed, box.seal(plain, userId));
        return (await acceptStep(userId, plain, code)) ? 'totp' : null;
      }
      if (RECOVERY_CODE_RE.test(code))
        return (await store.useRecoveryCode(userId, recoveryCodeHash(code))) ? 'recovery' : null;
      return null;
    },
    disable: (userId) => store.disable(userId),
    async issueChallenge(challenge, ip) {
      const mfaToken = `g2dm_${randomBytes(32).toString('base64url')}`;
      const until = Math.floor(clock.now() / 1000 + MFA_TOKEN_TTL_SECONDS) * 1000;
      const stored: StoredChallenge = {
        v: 1,
        sub: challenge.userId,
        tid: challenge.tenantId,
        fam: ipFamily(ip),
        until,
      };
      // Only the token's digest is a key: a store dump holds no usable token.
      await state.setMarker(`mfat:${digest(mfaToken)}`, JSON.stringify(stored), MFA_TOKEN_TTL_SECONDS);
      return { mfaToken, expiresAt: new Date(until).toISOString().replace(/\.\d{3}Z$/, 'Z') };
    },
    async takeChallenge(mfaToken, ip) {
      if (!MFA_TOKEN_RE.test(mfaToken)) return null;
      const raw = await state.takeMarker(`mfat:${digest(mfaToken)}`);
      if (raw === null) return null;
      let g: Partial<StoredChallenge>;
      try {
        g = JSON.parse(raw) as Partial<StoredChallenge>;
      } catch {
        return null;
      }
      if (g.v !== 1 || typeof g.sub !== 'string' || typeof g.tid !== 'string' || typeof g.until !== 'number')
        return null;
      if (g.until <= clock.now() || g.fam !== ipFamily(ip)) return null;
      return { userId: g.sub, tenantId: g.tid };
    },
  };
}
