-- Edge nodes and their one-time enrollment tokens (docs/edge-nodes.md).

CREATE TABLE nodes (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  api_key_hash  text NOT NULL UNIQUE CHECK (api_key_hash ~ '^[0-9a-f]{64}$'),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  last_seen_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);

CREATE UNIQUE INDEX nodes_tenant_name_active ON nodes (tenant_id, lower(name)) WHERE status = 'active';

CREATE TABLE node_enrollments (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  node_id     uuid REFERENCES nodes (id),
  created_at  timestamptz NOT NULL DEFAULT now()
);
