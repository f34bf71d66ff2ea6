import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError, toGatewayError, unavailable } from '../../gateway/errors.js';

// The error table of docs/api.md: every documented case keeps its exact status and message.
const SPEC_TABLE: [keyof typeof ERRORS, number, string][] = [
  ['INVALID_BODY', 400, 'invalid request body'],
  ['BODY_TOO_LARGE', 413, 'request body too large'],
  ['UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported media type'],
  ['UNAUTHENTICATED', 401, 'missing or invalid authorization header'],
  ['INVALID_CREDENTIALS', 401, 'invalid credentials'],
  ['INVALID_REFRESH_TOKEN', 401, 'invalid refresh token'],
  ['ACCOUNT_LOCKED', 403, 'account temporarily locked'],
  ['ACCOUNT_DISABLED', 403, 'account disabled'],
  ['FORBIDDEN', 403, 'forbidden'],
  ['PASSWORD_CHANGE_REQUIRED', 403, 'password change required'],
  ['MFA_ENROLLMENT_REQUIRED', 403, 'mfa enrollment required'],
  ['TOO_MANY_REQUESTS', 429, 'too many requests'],
  ['NOT_FOUND', 404, 'not found'],
  ['SERVICE_UNAVAILABLE', 503, 'service unavailable'],
  ['BAD_GATEWAY', 502, 'bad gateway'],
  ['GATEWAY_TIMEOUT', 504, 'gateway timeout'],
];

describe('error catalogue', () => {
  it.each(SPEC_TABLE)('%s is %i "%s"', (code, status, message) => {
    const e = new GatewayError(code);
    expect(e.status).toBe(status);
    expect(e.publicMessage).toBe(message);
  });

  it('every code has a 4xx/5xx status and a non-empty lowercase message', () => {
    for (const [code, { status, message }] of Object.entries(ERRORS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(message, code).toMatch(/^[a-z][a-z0-9 ]+$/);
    }
  });

  it('keeps details out of the public message unless the code allows it', () => {
    expect(new GatewayError('INVALID_CREDENTIALS', { publicMessage: 'no such user', detail: 'x' }).publicMessage).toBe(
      'invalid credentials',
    );
    expect(new GatewayError('PASSWORD_POLICY', { publicMessage: 'new password is too common' }).publicMessage).toBe(
      'new password is too common',
    );
  });

  it('maps dependency failures to 503 and unknown throws to 500', () => {
    expect(unavailable('redis', new Error('ECONNREFUSED')).status).toBe(503);
    const e = toGatewayError(new TypeError('boom'));
    expect(e.status).toBe(500);
    expect(e.publicMessage).toBe('internal server error');
  });
});
