import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Lockout } from '../auth/lockout.js';
import type { RevocationEvent } from '../store/revocation-bus.js';
import type { SessionService } from '../auth/session-service.js';
import type { MfaService } from '../auth/mfa.js';
import type { Sessions } from '../auth/sessions.js';
import type { TokenService } from '../auth/tokens.js';
import type { UserAuthenticator } from '../auth/user-auth.js';
import type { Tracer } from '../http/tracer.js';
import type { AuditLog } from '../store/audit.js';
import type { Db } from '../store/pg.js';
import type { TenantStore } from '../store/tenants.js';
import type { UserStore } from '../store/users.js';

/** The password primitives the auth routes need (gateway/auth/passwords.ts implements them). */
export interface Passwords {
  hash(plain: string): Promise<string>;
  verify(hash: string, plain: string): Promise<{ ok: boolean; needsRehash: boolean }>;
  /** Same cost as a real verify, always false: unknown identities take as long as wrong passwords. */
  verifyDummy(plain: string): Promise<false>;
  /** Runs `job` unless too many password requests are in progress: then 503 with Retry-After. */
  admit<T>(job: () => Promise<T>): Promise<T>;
}

/** Login outcome labels (metrics: success, invalid, locked, throttled, disabled, unavailable). */
export type LoginOutcome = 'success' | 'invalid' | 'locked' | 'throttled' | 'disabled' | 'unavailable' | 'bad_request';

/** Everything the gateway-owned auth endpoints use, built by app.ts. */
export interface AuthRouteDeps {
  readonly config: Config;
  readonly db: Db;
  readonly users: UserStore;
  readonly tenants: TenantStore;
  readonly passwords: Passwords;
  readonly checkNewPassword: (next: string, current: string) => void;
  readonly tokens: TokenService;
  readonly sessions: Sessions;
  /** Sessions and refresh tokens (login opens one; refresh, list, revoke). */
  readonly sessionService: SessionService;
  /** Applies a revocation here at once and pushes it to every other instance. */
  readonly announce: (event: RevocationEvent) => void;
  readonly userAuth: UserAuthenticator;
  readonly lockout: Lockout;
  /** The second factor (enrolment, code checks, login challenges). */
  readonly mfa: MfaService;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onLogin?: (outcome: LoginOutcome) => void;
  readonly onLockout?: () => void;
  /** Span export (ops/tracing.ts); null or absent when tracing is off. */
  readonly tracer?: Tracer | null;
}
