/**
 * Request and response schemas of the user auth endpoints (docs/api.md, "Auth endpoints",
 * "Refresh" and "Sessions") and their OpenAPI operations.
 */
import { Type } from 'typebox';
import { Body, Optional, Success, Timestamp, User, Uuid, type ApiOperations } from './common.js';

/**
 * No length limits here on purpose: an over-long email or password is refused by the route as
 * `invalid credentials` after a dummy verify, so its answer and timing match every other failure.
 */
export const LoginBody = Body(
  { email: Type.String(), password: Type.String(), tenant_domain: Optional(Type.String()) },
  'Credentials; `tenant_domain` picks the workspace (else it is resolved from the email).',
);

export const PasswordChangeBody = Body(
  { current_password: Type.String(), new_password: Type.String() },
  'The new password must have 12 to 256 characters, differ from the current one and not be a common password.',
);

export const LogoutBody = Body(
  { all: Optional(Type.Boolean()) },
  '`{"all": true}` ends every session of the caller; no body ends this one.',
);

export const RefreshBody = Body(
  { refresh_token: Type.String() },
  'The refresh token of the last login or refresh (single use).',
);

export const BootstrapBody = Body(
  {
    email: Type.String(),
    password: Type.String(),
    tenant_domain: Optional(Type.String()),
    tenant_name: Optional(Type.String()),
  },
  'The first platform admin; the Platform tenant defaults to `platform.get2dial.local` / `Platform`.',
);

/** Login, password change and refresh all answer this. */
export const TokenResponse = Type.Object(
  {
    token: Type.String({ description: 'HS256 access token (JWT).' }),
    expires_at: Timestamp,
    user: User,
    refresh_token: Type.String({ pattern: '^g2dr_[A-Za-z0-9_-]{43}$' }),
    refresh_expires_at: Timestamp,
  },
  { additionalProperties: false },
);

/** What login answers instead of a token when the user has a second factor on (docs/api.md). */
export const MfaChallenge = Type.Object(
  { mfa_required: Type.Literal(true), mfa_token: Type.String(), expires_at: Timestamp },
  { additionalProperties: false },
);

/** `me`: the user, whether a second factor is on, and whether the role still requires enrolment. */
const Me = Type.Object(
  { ...User.properties, mfa_enabled: Type.Boolean(), mfa_enrollment_required: Type.Optional(Type.Literal(true)) },
  { additionalProperties: false },
);

export const SessionList = Type.Array(
  Type.Object(
    {
      id: Uuid,
      created_at: Timestamp,
      last_seen_at: Timestamp,
      ip: Type.Union([Type.String(), Type.Null()]),
      user_agent: Type.Union([Type.String(), Type.Null()]),
      current: Type.Boolean({ description: 'The session of the token that asked.' }),
    },
    { additionalProperties: false },
  ),
  { description: 'The caller’s open sessions, newest first.' },
);

export const WsTicket = Type.Object(
  { ticket: Type.String({ minLength: 1 }), expires_at: Timestamp },
  { additionalProperties: false },
);

const Bootstrapped = Type.Object(
  {
    tenant: Type.Object({ id: Uuid, domain: Type.String(), name: Type.String() }, { additionalProperties: false }),
    user: User,
  },
  { additionalProperties: false },
);

const TENANT_ID = { tenant_id: { description: 'Platform admins only: the tenant the ticket acts in.', schema: Uuid } };

export const AUTH_OPERATIONS: ApiOperations = {
  'POST /api/v1/auth/login': {
    summary: 'Log in',
    description: 'Every credential failure is the same 401; failures count toward the lockout and the per-IP throttle.',
    tag: 'auth',
    security: 'public',
    body: { schema: LoginBody },
    responses: {
      200: {
        description:
          'Logged in, a new session; or, for a user with a second factor on, the challenge to complete at /api/v1/auth/mfa/verify.',
        schema: Success(Type.Union([TokenResponse, MfaChallenge])),
      },
    },
    errors: ['INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'ACCOUNT_DISABLED', 'TOO_MANY_REQUESTS', 'SERVICE_UNAVAILABLE'],
  },
  'GET /api/v1/auth/me': {
    summary: 'The caller, read fresh from the database',
    tag: 'auth',
    security: 'user',
    responses: { 200: { description: 'The user.', schema: Success(Me) } },
    errors: ['UNAUTHENTICATED', 'SERVICE_UNAVAILABLE'],
  },
  'POST /api/v1/auth/me/password': {
    summary: 'Change the password',
    description: 'Ends every session and every earlier token; answers a new token and a new session.',
    tag: 'auth',
    security: 'user',
    body: { schema: PasswordChangeBody },
    responses: { 200: { description: 'Changed.', schema: Success(TokenResponse) } },
    errors: ['PASSWORD_POLICY', 'UNAUTHENTICATED', 'INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'SERVICE_UNAVAILABLE'],
  },
  'POST /api/v1/auth/logout': {
    summary: 'Log out',
    description: 'Revokes the token (and its session); with `{"all": true}` every session of the caller.',
    tag: 'auth',
    security: 'user',
    body: { schema: LogoutBody, optional: true },
    responses: {
      200: {
        description: 'Logged out.',
        schema: Success(Type.Object({ logged_out: Type.Literal(true) }, { additionalProperties: false })),
      },
    },
    errors: ['UNAUTHENTICATED', 'SERVICE_UNAVAILABLE'],
  },
  'POST /api/v1/auth/refresh': {
    summary: 'Trade a refresh token for a new access token and refresh token',
    description:
      'A spent refresh token presented again ends its whole session. Failures count toward the per-IP throttle.',
    tag: 'sessions',
    security: 'public',
    body: { schema: RefreshBody },
    responses: { 200: { description: 'Refreshed (the presented token is spent).', schema: Success(TokenResponse) } },
    errors: ['INVALID_REFRESH_TOKEN', 'TOO_MANY_REQUESTS', 'SERVICE_UNAVAILABLE'],
  },
  'GET /api/v1/auth/sessions': {
    summary: 'The caller’s open sessions',
    tag: 'sessions',
    security: 'user',
    responses: { 200: { description: 'Newest first.', schema: Success(SessionList) } },
    errors: ['UNAUTHENTICATED', 'PASSWORD_CHANGE_REQUIRED', 'SERVICE_UNAVAILABLE'],
  },
  'DELETE /api/v1/auth/sessions/{id}': {
    summary: 'End one of the caller’s sessions',
    tag: 'sessions',
    security: 'user',
    pathParams: { id: { description: 'The session id (another user’s or an unknown one is 404).', schema: Uuid } },
    responses: {
      200: {
        description: 'Revoked.',
        schema: Success(Type.Object({ revoked: Type.Literal(true), id: Uuid }, { additionalProperties: false })),
      },
    },
    errors: ['UNAUTHENTICATED', 'PASSWORD_CHANGE_REQUIRED', 'NOT_FOUND', 'SERVICE_UNAVAILABLE'],
  },
  'POST /api/v1/auth/ws-ticket': {
    summary: 'A single-use ticket for one WebSocket upgrade (`/ws/*?ticket=`)',
    description: 'Valid for at most 30 s, bound to the user, the session and the acting tenant. No body.',
    tag: 'sessions',
    security: 'user',
    queryParams: TENANT_ID,
    responses: { 200: { description: 'Issued.', schema: Success(WsTicket) } },
    errors: [
      'INVALID_QUERY',
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'PASSWORD_CHANGE_REQUIRED',
      'NOT_FOUND',
      'SERVICE_UNAVAILABLE',
    ],
  },
  'POST /api/v1/auth/bootstrap': {
    summary: 'Create the Platform tenant and the first platform admin (once)',
    description:
      'Exists only while AUTH_BOOTSTRAP_TOKEN is set (else 404). Wrong tokens count toward the per-IP throttle.',
    tag: 'auth',
    security: 'bootstrap',
    body: { schema: BootstrapBody },
    responses: { 201: { description: 'Created.', schema: Success(Bootstrapped) } },
    errors: ['PASSWORD_POLICY', 'UNAUTHENTICATED', 'NOT_FOUND', 'CONFLICT', 'TOO_MANY_REQUESTS', 'SERVICE_UNAVAILABLE'],
  },
};
