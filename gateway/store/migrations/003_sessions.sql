-- Sessions and rotating refresh tokens (docs/api.md, sessions). Every login opens a session;
-- access tokens carry its id as claim `sid`. Refresh tokens are stored only as hex SHA-256.

CREATE TABLE sessions (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id           uuid NOT NULL REFERENCES tenants (id),
  user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at          timestamptz NOT NULL DEFAULT now(),
  last_seen_at        timestamptz NOT NULL DEFAULT now(),
  ip                  text,
  user_agent          text CHECK (length(user_agent) <= 512),
  -- Absolute end (AUTH_SESSION_MAX_SECONDS from login); refresh never extends it.
  expires_at          timestamptz NOT NULL,
  revoked_at          timestamptz,
  revoked_reason      text CHECK (revoked_reason IN ('logout', 'logout_all', 'revoked', 'refresh_reuse', 'password_change', 'admin')),
  -- The current refresh token; the one it replaced is kept in session_spent_refresh.
  refresh_hash        text NOT NULL UNIQUE CHECK (refresh_hash ~ '^[0-9a-f]{64}$'),
  -- Idle end (AUTH_REFRESH_TTL_SECONDS from the last refresh), never past expires_at.
  refresh_expires_at  timestamptz NOT NULL,
  refreshed_at        timestamptz,
  previous_refresh_hash text CHECK (previous_refresh_hash ~ '^[0-9a-f]{64}$'),
  CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);

CREATE INDEX sessions_user_open ON sessions (user_id, created_at DESC) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Every refresh token a rotation spent: presenting one again is reuse, and ends its session.
CREATE TABLE session_spent_refresh (
  hash        text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
  session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  spent_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX session_spent_refresh_session ON session_spent_refresh (session_id);

-- Revocation push for state that lives here: whoever changes a user's status, password or
-- must_change_password, or revokes a session (a gateway, the admin CLI, the control plane, a SQL
-- console), every gateway LISTENing on g2d_user_revoked hears it when the change commits and
-- drops its cached answer. Payload: {"o": origin, "e": event} as gateway/auth/revocation-bus.ts reads it.
CREATE FUNCTION g2d_notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('g2d_user_revoked', json_build_object('o', 'db', 'e', json_build_object('kind', 'user', 'userId', OLD.id::text))::text);
  RETURN NULL;
END $$;

CREATE TRIGGER users_notify_changed AFTER UPDATE ON users FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
     OR OLD.password_changed_at IS DISTINCT FROM NEW.password_changed_at
     OR OLD.must_change_password IS DISTINCT FROM NEW.must_change_password
     OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id)
  EXECUTE FUNCTION g2d_notify_user_changed();

CREATE TRIGGER users_notify_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION g2d_notify_user_changed();

CREATE FUNCTION g2d_notify_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('g2d_user_revoked', json_build_object('o', 'db', 'e',
    json_build_object('kind', 'session', 'sid', NEW.id::text, 'userId', NEW.user_id::text))::text);
  RETURN NULL;
END $$;

CREATE TRIGGER sessions_notify_revoked AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION g2d_notify_session_revoked();

ALTER TABLE auth_events DROP CONSTRAINT auth_events_event_check;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_event_check CHECK (event IN (
  'login_success', 'login_failure', 'lockout', 'logout', 'password_change', 'bootstrap',
  'tenant_override', 'node_registered', 'node_key_rotated', 'node_revoked', 'node_auth_failure',
  'session_revoked', 'logout_all', 'refresh_reuse'));
