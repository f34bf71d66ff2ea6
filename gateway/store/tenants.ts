import { GatewayError } from '../errors.js';
import type { Db } from './pg.js';

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly domain: string;
  readonly isPlatform: boolean;
  readonly status: 'active' | 'suspended';
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface TenantRow {
  id: string;
  name: string;
  domain: string;
  is_platform: boolean;
  status: 'active' | 'suspended';
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, domain, is_platform, status, created_at, updated_at';

function toTenant(r: TenantRow): Tenant {
  return {
    id: r.id,
    name: r.name,
    domain: r.domain,
    isPlatform: r.is_platform,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface TenantStore {
  findByDomain(domain: string): Promise<Tenant | null>;
  findById(id: string): Promise<Tenant | null>;
  findPlatform(): Promise<Tenant | null>;
  /** Every tenant, by domain (admin listing). */
  list(): Promise<Tenant[]>;
  /** Creates a tenant; an existing domain with the same name/platform flag is returned (idempotent). */
  create(input: { domain: string; name: string; isPlatform: boolean }): Promise<{ tenant: Tenant; created: boolean }>;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Tenants: domains are stored lowercase; at most one Platform tenant. */
export function createTenantStore(db: Pick<Db, 'query'>): TenantStore {
  return {
    async findByDomain(domain) {
      const { rows } = await db.query<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE domain = $1`, [
        domain.trim().toLowerCase(),
      ]);
      return rows[0] ? toTenant(rows[0]) : null;
    },
    async findById(id) {
      if (!UUID_RE.test(id)) return null;
      const { rows } = await db.query<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE id = $1`, [id]);
      return rows[0] ? toTenant(rows[0]) : null;
    },
    async findPlatform() {
      const { rows } = await db.query<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE is_platform`);
      return rows[0] ? toTenant(rows[0]) : null;
    },
    async list() {
      const { rows } = await db.query<TenantRow>(`SELECT ${COLUMNS} FROM tenants ORDER BY domain`);
      return rows.map(toTenant);
    },
    async create({ domain, name, isPlatform }) {
      const d = domain.trim().toLowerCase();
      const { rows } = await db
        .query<TenantRow>(
          `INSERT INTO tenants (domain, name, is_platform) VALUES ($1, $2, $3)
         ON CONFLICT (domain) DO NOTHING RETURNING ${COLUMNS}`,
          [d, name, isPlatform],
        )
        .catch((err: unknown) => {
          if ((err as { constraint?: string }).constraint === 'tenants_single_platform') {
            throw new GatewayError('CONFLICT', {
              publicMessage: 'a platform tenant already exists',
              detail: 'second platform tenant',
            });
          }
          throw err;
        });
      if (rows[0]) return { tenant: toTenant(rows[0]), created: true };
      const existing = await this.findByDomain(d);
      if (!existing) throw new Error('tenant vanished during create');
      if (existing.isPlatform !== isPlatform) {
        throw new GatewayError('CONFLICT', {
          publicMessage: `tenant ${d} exists with is_platform=${String(existing.isPlatform)}`,
        });
      }
      return { tenant: existing, created: false };
    },
  };
}
