import { GatewayError } from '../errors.js';
import type { Db } from './pg.js';
import type { Node, NodeStore } from './nodes.js';

export interface Enrollment {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
  readonly nodeId: string | null;
  readonly createdAt: Date;
}

interface EnrollmentRow {
  id: string;
  tenant_id: string;
  name: string;
  expires_at: Date;
  used_at: Date | null;
  node_id: string | null;
  created_at: Date;
}

const ENROLLMENT_COLUMNS = 'e.id, e.tenant_id, e.name, e.expires_at, e.used_at, e.node_id, e.created_at';
const HASH_RE = /^[0-9a-f]{64}$/;

function toEnrollment(r: EnrollmentRow): Enrollment {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
    nodeId: r.node_id,
    createdAt: r.created_at,
  };
}

/** Inserts an active node inside the caller's transaction (nodes.ts owns the table and its conflict). */
export type InsertNode = (q: Pick<Db, 'query'>, tenantId: string, name: string, apiKeyHash: string) => Promise<Node>;

/** The enrollment-token half of the NodeStore (docs/edge-nodes.md); tokens are stored as SHA-256 hex only. */
export function createEnrollmentQueries(
  db: Pick<Db, 'query' | 'transaction'>,
  insertNode: InsertNode,
): Pick<NodeStore, 'createEnrollment' | 'consumeEnrollment'> {
  return {
    async createEnrollment({ tenantId, name, tokenHash, expiresAt }) {
      const { rows } = await db.query<EnrollmentRow>(
        `INSERT INTO node_enrollments AS e (tenant_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4) RETURNING ${ENROLLMENT_COLUMNS}`,
        [tenantId, name, tokenHash, expiresAt],
      );
      return toEnrollment(rows[0] as EnrollmentRow);
    },

    async consumeEnrollment({ tokenHash, apiKeyHash, now, name }) {
      if (!HASH_RE.test(tokenHash)) return null;
      return db.transaction(async (tx) => {
        // `now` is the gateway's clock and expires_at was computed by the issuer's (the CLI's), so
        // the database clock plays no part; application hosts are expected to be NTP-synced, and a
        // skew between them shifts a token's life by that much (README "Edge nodes").
        const { rows } = await tx.query<EnrollmentRow>(
          `UPDATE node_enrollments AS e SET used_at = $2
             FROM tenants t
            WHERE e.token_hash = $1 AND e.used_at IS NULL AND e.expires_at > $2
              AND t.id = e.tenant_id AND t.status = 'active'
            RETURNING ${ENROLLMENT_COLUMNS}`,
          [tokenHash, now],
        );
        const row = rows[0];
        if (!row) return null;
        if (name !== undefined && name.trim().toLowerCase() !== row.name.toLowerCase()) {
          // Thrown inside the transaction: the token is not spent on a misconfigured agent.
          throw new GatewayError('CONFLICT', {
            publicMessage: 'name does not match the enrollment token',
            detail: 'enrollment name mismatch',
          });
        }
        const node = await insertNode(tx, row.tenant_id, row.name, apiKeyHash);
        await tx.query('UPDATE node_enrollments SET node_id = $2 WHERE id = $1', [row.id, node.id]);
        return { node, enrollment: toEnrollment({ ...row, node_id: node.id }) };
      });
    },
  };
}
