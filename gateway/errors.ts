/**
 * The one error catalogue (docs/api.md). Every failure the gateway reports to a client is a
 * GatewayError with a stable `code`; the status and the public message come from this table
 * only, so tests assert on codes and clients see exactly the documented strings.
 */
export const ERRORS = {
  INVALID_BODY: { status: 400, message: 'invalid request body' },
  /** Password policy violations name the rule that failed (docs/api.md); the detail is public. */
  PASSWORD_POLICY: { status: 400, message: 'password does not meet the policy' },
  INVALID_PATH: { status: 400, message: 'invalid request path' },
  INVALID_QUERY: { status: 400, message: 'invalid query parameter' },
  /** More than one Host, or a Host value that is not an authority (RFC 9112 §3.2). */
  INVALID_HOST: { status: 400, message: 'invalid host header' },
  /** A WebSocket upgrade that is not a valid RFC 6455 handshake (method, key, version). */
  INVALID_HANDSHAKE: { status: 400, message: 'invalid websocket handshake' },
  /** An Upgrade the gateway ignores (h2c, WebSocket on an HTTP route) on a request with a body it can no longer read. */
  UNSUPPORTED_UPGRADE: { status: 400, message: 'upgrade not supported on a request with a body' },
  UNAUTHENTICATED: { status: 401, message: 'missing or invalid authorization header' },
  INVALID_CREDENTIALS: { status: 401, message: 'invalid credentials' },
  /** A refresh token that is malformed, unknown, spent, expired, or whose session or user ended. */
  INVALID_REFRESH_TOKEN: { status: 401, message: 'invalid refresh token' },
  ACCOUNT_LOCKED: { status: 403, message: 'account temporarily locked' },
  ACCOUNT_DISABLED: { status: 403, message: 'account disabled' },
  FORBIDDEN: { status: 403, message: 'forbidden' },
  PASSWORD_CHANGE_REQUIRED: { status: 403, message: 'password change required' },
  /** A role in AUTH_MFA_REQUIRED_ROLES without a second factor, outside `me`, enrolment and `logout`. */
  MFA_ENROLLMENT_REQUIRED: { status: 403, message: 'mfa enrollment required' },
  NOT_FOUND: { status: 404, message: 'not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  CONFLICT: { status: 409, message: 'conflict' },
  BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported media type' },
  TOO_MANY_REQUESTS: { status: 429, message: 'too many requests' },
  INTERNAL: { status: 500, message: 'internal server error' },
  BAD_GATEWAY: { status: 502, message: 'bad gateway' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'service unavailable' },
  GATEWAY_TIMEOUT: { status: 504, message: 'gateway timeout' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Codes whose `publicMessage` may replace the table's message (it never carries secrets). */
export const PUBLIC_DETAIL: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PASSWORD_POLICY',
  'INVALID_QUERY',
  'CONFLICT',
]);

export interface GatewayErrorOptions {
  /** Seconds for a `Retry-After` header (403 locked, 429 throttled, 503 draining). */
  retryAfter?: number;
  /** Replaces the table message, only for codes in PUBLIC_DETAIL. */
  publicMessage?: string;
  /** Logged with the request id, never sent to the client. */
  detail?: string;
  /** Extra response fields sent with the error (a 429's RateLimit-Policy and RateLimit). */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly publicMessage: string;
  readonly retryAfter: number | undefined;
  readonly detail: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    const entry = ERRORS[code];
    super(options.detail ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = entry.status;
    this.publicMessage =
      options.publicMessage !== undefined && PUBLIC_DETAIL.has(code) ? options.publicMessage : entry.message;
    this.retryAfter = options.retryAfter;
    this.detail = options.detail;
    this.headers = options.headers;
  }
}

/** Narrowing helper that also works across module copies (duck-typed on `code`). */
export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/** Retry-After on a 503 for an unreachable dependency (the drivers reconnect within ~2 s). */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

/** A dependency (Postgres, Redis) is unreachable or failing: always 503, never 401: a broken dependency is not a failed login. */
export function unavailable(dependency: string, cause: unknown): GatewayError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  // Clients and balancers retry sooner than a person would; a few seconds spreads the retries.
  return new GatewayError('SERVICE_UNAVAILABLE', {
    detail: `${dependency}: ${reason}`,
    cause,
    retryAfter: DEPENDENCY_RETRY_AFTER_SECONDS,
  });
}

/** Maps anything thrown to a GatewayError; unknown errors are bugs and become 500. */
export function toGatewayError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
  return new GatewayError('INTERNAL', { detail: err instanceof Error ? err.message : String(err), cause: err });
}
