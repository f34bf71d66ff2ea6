import DataLoader from 'dataloader';
import type { Role } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Db } from './pg.js';
import { UUID_RE } from './tenants.js';

export interface User {
  readonly id: string;
  readonly tenantId: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly status: 'active' | 'disabled';
  readonly mustChangePassword: boolean;
  readonly passwordChangedAt: Date;
  readonly lastLoginAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface UserRow {
  id: string;
  tenant_id: string;
  email: string;
  password_hash: string;
  role: Role;
  status: 'active' | 'disabled';
  must_change_password: boolean;
  password_changed_at: Date;
  last_login_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'u.id, u.tenant_id, u.email, u.password_hash, u.role, u.status, u.must_change_password, u.password_changed_at, u.last_login_at, u.created_at, u.updated_at';

function toUser(r: UserRow): User {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    email: r.email,
    passwordHash: r.password_hash,
    role: r.role,
    status: r.status,
    mustChangePassword: r.must_change_password,
    passwordChangedAt: r.password_changed_at,
    lastLoginAt: r.last_login_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Emails are matched trimmed and case-insensitively (docs/api.md, login). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface UserStore {
  findById(id: string): Promise<User | null>;
  findInTenant(tenantId: string, email: string): Promise<User | null>;
  /** Users with this email in active tenants, oldest first (login without tenant_domain). */
  findByEmailAcrossTenants(email: string): Promise<User[]>;
  /** Every user of a tenant, by email (admin listing). */
  listByTenant(tenantId: string): Promise<User[]>;
  create(input: {
    tenantId: string;
    email: string;
    passwordHash: string;
    role: Role;
    mustChangePassword: boolean;
  }): Promise<User>;
  recordLogin(id: string, rehash?: string): Promise<void>;
  /** Sets a new hash, clears must_change_password, stamps password_changed_at; returns the user. */
  changePassword(id: string, passwordHash: string, at: Date, mustChange?: boolean): Promise<User>;
  setStatus(id: string, status: 'active' | 'disabled'): Promise<User | null>;
  /** Status lookup for the per-request disabled check (one indexed row). */
  statusOf(id: string): Promise<{
    status: 'active' | 'disabled';
    mustChangePassword: boolean;
    passwordChangedAt: Date;
    mfaEnabled: boolean;
  } | null>;
}

/** Users (docs/security-model.md). The Platform flag is copied from the tenant so the CHECK can hold declaratively. */
export function createUserStore(db: Pick<Db, 'query'>): UserStore {
  const statuses = createStatusLoader(db);
  const one = async (sql: string, params: unknown[]) => {
    const { rows } = await db.query<UserRow>(sql, params);
    return rows[0] ? toUser(rows[0]) : null;
  };
  return {
    findById: (id) =>
      UUID_RE.test(id) ? one(`SELECT ${COLUMNS} FROM users u WHERE u.id = $1`, [id]) : Promise.resolve(null),
    findInTenant: (tenantId, email) =>
      one(`SELECT ${COLUMNS} FROM users u WHERE u.tenant_id = $1 AND lower(u.email) = $2`, [
        tenantId,
        normalizeEmail(email),
      ]),
    async findByEmailAcrossTenants(email) {
      const { rows } = await db.query<UserRow>(
        `SELECT ${COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id
          WHERE lower(u.email) = $1 AND t.status = 'active'
          ORDER BY u.created_at, u.id LIMIT 20`,
        [normalizeEmail(email)],
      );
      return rows.map(toUser);
    },
    async listByTenant(tenantId) {
      const { rows } = await db.query<UserRow>(
        `SELECT ${COLUMNS} FROM users u WHERE u.tenant_id = $1 ORDER BY lower(u.email), u.id`,
        [tenantId],
      );
      return rows.map(toUser);
    },
    async create({ tenantId, email, passwordHash, role, mustChangePassword }) {
      try {
        const user = await one(
          `INSERT INTO users AS u (tenant_id, tenant_is_platform, email, password_hash, role, must_change_password)
           SELECT t.id, t.is_platform, $2, $3, $4, $5 FROM tenants t WHERE t.id = $1
           RETURNING ${COLUMNS}`,
          [tenantId, normalizeEmail(email), passwordHash, role, mustChangePassword],
        );
        if (!user) throw new GatewayError('NOT_FOUND', { detail: 'tenant not found' });
        return user;
      } catch (err) {
        const constraint = (err as { constraint?: string }).constraint;
        if (constraint === 'users_tenant_email')
          throw new GatewayError('CONFLICT', { publicMessage: 'user already exists' });
        if (constraint === 'users_platform_admin_in_platform') {
          throw new GatewayError('CONFLICT', {
            publicMessage: 'platform_admin users belong to the Platform tenant only',
          });
        }
        throw err;
      }
    },
    async recordLogin(id, rehash) {
      if (rehash)
        await db.query('UPDATE users SET last_login_at = now(), password_hash = $2 WHERE id = $1', [id, rehash]);
      else await db.query('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
    },
    // `at` comes from the gateway's clock, the same clock that stamps token `iat`, so a database
    // clock running ahead cannot make the fresh token look older than the change.
    async changePassword(id, passwordHash, at, mustChange = false) {
      const user = await one(
        `UPDATE users AS u SET password_hash = $2, must_change_password = $3, password_changed_at = $4, updated_at = now()
          WHERE u.id = $1 RETURNING ${COLUMNS}`,
        [id, passwordHash, mustChange, at],
      );
      if (!user) throw new GatewayError('NOT_FOUND');
      return user;
    },
    setStatus: (id, status) =>
      one(`UPDATE users AS u SET status = $2, updated_at = now() WHERE u.id = $1 RETURNING ${COLUMNS}`, [id, status]),
    statusOf(id) {
      if (!UUID_RE.test(id)) return Promise.resolve(null);
      return statuses.load(id.toLowerCase());
    },
  };
}

type UserStatusRow = Awaited<ReturnType<UserStore['statusOf']>>;

/**
 * The hot path's status reads, batched: every `statusOf` asked in the same tick is answered by one
 * `ANY($1)` query (at most 500 ids each). When many cached answers age out together (1 000 tokens
 * whose entries were filled in the same second), one query replaces hundreds of round trips on a
 * pool of ten connections. Nothing is cached here (sessions.ts owns the lifetimes); a failed query
 * fails every read it carried, as the single reads did. Ids arrive lower-cased (Postgres prints uuids so).
 */
function createStatusLoader(db: Pick<Db, 'query'>): DataLoader<string, UserStatusRow> {
  return new DataLoader<string, UserStatusRow>(
    async (ids) => {
      const { rows } = await db.query<{
        id: string;
        status: 'active' | 'disabled';
        must_change_password: boolean;
        password_changed_at: Date;
        mfa_enabled: boolean;
      }>(
        `SELECT u.id, u.status, u.must_change_password, u.password_changed_at, (m.enabled_at IS NOT NULL) AS mfa_enabled
           FROM users u LEFT JOIN user_mfa m ON m.user_id = u.id WHERE u.id = ANY($1::uuid[])`,
        [ids],
      );
      const byId = new Map(
        rows.map((r) => [
          r.id,
          {
            status: r.status,
            mustChangePassword: r.must_change_password,
            passwordChangedAt: r.password_changed_at,
            mfaEnabled: r.mfa_enabled,
          },
        ]),
      );
      return ids.map((id) => byId.get(id) ?? null);
    },
    { cache: false, maxBatchSize: 500 },
  );
}
