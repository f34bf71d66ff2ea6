/** The fixed label values of the gateway's metrics, pre-set to 0 so dashboards see every series (ops/metrics.ts). */

/** Login outcomes (routes/deps.ts LoginOutcome); pre-set to 0 so dashboards see every series. */
export const LOGIN_OUTCOMES = [
  'success',
  'invalid',
  'locked',
  'throttled',
  'disabled',
  'unavailable',
  'bad_request',
] as const;
/** Why a node credential was refused: not shaped like a key, a wrong/revoked key, a bad enrollment token. */
export const NODE_FAILURE_REASONS = ['malformed', 'key', 'enrollment'] as const;
export type NodeFailureReason = (typeof NODE_FAILURE_REASONS)[number];

/** Why a bearer token was refused (auth/tokens.ts TokenFailure + session verdicts + missing). */
export const TOKEN_REJECTION_REASONS = [
  'missing',
  'malformed',
  'algorithm',
  'signature',
  'expired',
  'not_yet_valid',
  'claims',
  'unsupported',
  'revoked',
  'stale',
  'disabled',
  'unknown_user',
] as const;

export const DEPENDENCIES = ['postgres', 'redis'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

export const AUDIT_PRUNE_RESULTS = ['pruned', 'skipped', 'failed'] as const;
export type AuditPruneResult = (typeof AUDIT_PRUNE_RESULTS)[number];

/** Request-limit kinds (config RateLimitKind), one series each. */
export const RATE_LIMITS = ['user', 'node', 'tenant'] as const;
