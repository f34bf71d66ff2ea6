import type { Node } from '../store/nodes.js';
import type { User } from '../store/users.js';
import { rfc3339 } from '../util/time.js';

/** The user object the API returns (docs/api.md, `auth/me`): never the hash. */
export function publicUser(u: User) {
  return {
    id: u.id,
    tenant_id: u.tenantId,
    email: u.email,
    role: u.role,
    status: u.status,
    must_change_password: u.mustChangePassword,
    created_at: rfc3339(u.createdAt),
    updated_at: rfc3339(u.updatedAt),
  };
}

/** The API shape of a node (CLI output); never the key or its hash. */
export function publicNode(n: Node) {
  return {
    id: n.id,
    tenant_id: n.tenantId,
    name: n.name,
    status: n.status,
    last_seen_at: n.lastSeenAt ? rfc3339(n.lastSeenAt) : null,
    created_at: rfc3339(n.createdAt),
    revoked_at: n.revokedAt ? rfc3339(n.revokedAt) : null,
  };
}
