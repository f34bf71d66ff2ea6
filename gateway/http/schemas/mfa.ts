/**
 * Request and response schemas of the TOTP multi-factor endpoints (RFC 6238; docs/api.md, "MFA")
 * and their OpenAPI operations (listed in API_AREAS, http/openapi.ts).
 */
import { Type } from 'typebox';
import { TokenResponse } from './auth.js';
import { Body, Success, type ApiOperations } from './common.js';

/** A current TOTP code (6 digits) or a recovery code; the route decides which it is. */
const Code = Type.String({ minLength: 1, maxLength: 64 });

export const MfaConfirmBody = Body({ code: Code }, 'A current TOTP code from the authenticator just set up.');
export const MfaDisableBody = Body({ code: Code }, 'A current TOTP code or an unused recovery code.');
export const MfaVerifyBody = Body(
  { mfa_token: Type.String(), code: Code },
  'The `mfa_token` of the login answer and a TOTP or recovery code.',
);

export const MfaSetup = Type.Object(
  {
    secret: Type.String({ pattern: '^[A-Z2-7]{32}$', description: 'Base32, 160 bits.' }),
    otpauth_uri: Type.String({ pattern: '^otpauth://totp/' }),
  },
  { additionalProperties: false },
);

export const RecoveryCodes = Type.Object(
  { recovery_codes: Type.Array(Type.String(), { minItems: 10, maxItems: 10, description: 'Single use; shown once.' }) },
  { additionalProperties: false },
);

export const MFA_OPERATIONS: ApiOperations = {
  'POST /api/v1/auth/mfa/totp/setup': {
    summary: 'Start TOTP enrolment',
    description: 'The secret stays pending until confirmed.',
    tag: 'mfa',
    security: 'user',
    responses: { 200: { description: 'The secret and its otpauth URI.', schema: Success(MfaSetup) } },
    errors: ['UNAUTHENTICATED', 'PASSWORD_CHANGE_REQUIRED', 'CONFLICT', 'SERVICE_UNAVAILABLE'],
  },
  'POST /api/v1/auth/mfa/totp/confirm': {
    summary: 'Confirm TOTP enrolment with a first code',
    tag: 'mfa',
    security: 'user',
    body: { schema: MfaConfirmBody },
    responses: { 200: { description: 'MFA is on; the recovery codes, shown once.', schema: Success(RecoveryCodes) } },
    errors: ['UNAUTHENTICATED', 'INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'CONFLICT', 'SERVICE_UNAVAILABLE'],
  },
  'DELETE /api/v1/auth/mfa/totp': {
    summary: 'Turn TOTP off',
    tag: 'mfa',
    security: 'user',
    body: { schema: MfaDisableBody },
    responses: {
      200: {
        description: 'MFA is off.',
        schema: Success(Type.Object({ mfa_enabled: Type.Literal(false) }, { additionalProperties: false })),
      },
    },
    errors: [
      'UNAUTHENTICATED',
      'INVALID_CREDENTIALS',
      'ACCOUNT_LOCKED',
      'FORBIDDEN',
      'CONFLICT',
      'SERVICE_UNAVAILABLE',
    ],
  },
  'POST /api/v1/auth/mfa/verify': {
    summary: 'Complete a login that answered `mfa_required`',
    description:
      'The `mfa_token` is single use and valid 5 minutes; a TOTP code is accepted once per user. Wrong codes count toward the lockout.',
    tag: 'mfa',
    security: 'public',
    body: { schema: MfaVerifyBody },
    responses: { 200: { description: 'Logged in; a new session.', schema: Success(TokenResponse) } },
    errors: ['INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'ACCOUNT_DISABLED', 'TOO_MANY_REQUESTS', 'SERVICE_UNAVAILABLE'],
  },
};
