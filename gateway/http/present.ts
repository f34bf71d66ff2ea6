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
