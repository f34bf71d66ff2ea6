-- Second factor (docs/api.md): one TOTP enrolment per
-- user and its recovery codes. Secrets are stored only sealed (AES-256-GCM, gateway/auth/mfa-crypto.ts);
-- recovery codes only as SHA-256 digests of 80-bit random codes.

CREATE TABLE user_mfa (
  user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  -- Set by setup, replaced by a repeated setup, moved to secret_sealed by confirm.
  pending_sealed  bytea,
  secret_sealed   bytea,
  enabled_at      timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_mfa_enabled_has_secret CHECK ((enabled_at IS NULL) = (secret_sealed IS NULL))
);

CREATE TABLE mfa_recovery_codes (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash   text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  used_at     timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

-- The audit trail's event list gains the second-factor events. The session events of the
-- sessions work are listed too, so whichever order the two migrations run in, neither drops the
-- other's names.
ALTER TABLE auth_events DROP CONSTRAINT IF EXISTS auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'login_success', 'login_failure', 'lockout', 'logout', 'password_change', 'bootstrap',
  'tenant_override', 'node_registered', 'node_key_rotated', 'node_revoked', 'node_auth_failure',
  'session_revoked', 'logout_all', 'refresh_reuse',
  'mfa_enabled', 'mfa_disabled', 'mfa_failure', 'recovery_code_used'));

-- A session remembers how the user signed in (RFC 8176 amr), so the access tokens its refreshes
-- mint keep saying "pwd,otp" after an MFA login.
ALTER TABLE sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';
