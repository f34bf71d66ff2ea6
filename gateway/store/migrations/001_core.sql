-- Core schema (docs/api.md, data model). Tenants, users and the audit trail.

CREATE TABLE tenants (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  domain       text NOT NULL UNIQUE CHECK (domain = lower(domain) AND length(domain) BETWEEN 1 AND 253),
  is_platform  boolean NOT NULL DEFAULT false,
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- Target of the users composite key below, so "platform_admin only in the Platform tenant"
  -- is a declarative constraint rather than a trigger.
  UNIQUE (id, is_platform)
);

-- Exactly one reserved Platform tenant at most.
CREATE UNIQUE INDEX tenants_single_platform ON tenants (is_platform) WHERE is_platform;

CREATE TABLE users (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id             uuid NOT NULL,
  tenant_is_platform    boolean NOT NULL DEFAULT false,
  email                 text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 320),
  password_hash         text NOT NULL,
  role                  text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin', 'platform_admin')),
  status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  must_change_password  boolean NOT NULL DEFAULT false,
  password_changed_at   timestamptz NOT NULL DEFAULT now(),
  last_login_at         timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, tenant_is_platform) REFERENCES tenants (id, is_platform) ON UPDATE CASCADE,
  CONSTRAINT users_platform_admin_in_platform CHECK (role <> 'platform_admin' OR tenant_is_platform)
);

CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email));
CREATE INDEX users_email ON users (lower(email));

CREATE TABLE auth_events (
  id           bigserial PRIMARY KEY,
  occurred_at  timestamptz NOT NULL DEFAULT now(),
  event        text NOT NULL CHECK (event IN (
                 'login_success', 'login_failure', 'lockout', 'logout', 'password_change', 'bootstrap',
                 'tenant_override', 'node_registered', 'node_key_rotated', 'node_revoked', 'node_auth_failure')),
  tenant_id    uuid,
  user_id      uuid,
  node_id      uuid,
  ip           text,
  user_agent   text,
  request_id   text,
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX auth_events_occurred_at ON auth_events (occurred_at);
CREATE INDEX auth_events_tenant ON auth_events (tenant_id, occurred_at);
CREATE INDEX auth_events_user ON auth_events (user_id, occurred_at);
