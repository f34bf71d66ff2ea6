import { GatewayError } from '../errors.js';
import type { Db } from './pg.js';
import { UUID_RE } from './tenants.js';
import { createEnrollmentQueries, type Enrollment } from './node-enrollments.js';

export type { Enrollment } from './node-enrollments.js';

/**
 * The Postgres channel a revocation or key rotation is announced on (docs/edge-nodes.md). The payload is
 * the node id; every gateway instance LISTENs and evicts that node from its key cache.
 */
export const NODE_REVOKED_CHANNEL = 'g2d_node_revoked';

export interface Node {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly status: 'active' | 'revoked';
  readonly lastSeenAt: Date | null;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

interface NodeRow {
  id: string;
  tenant_id: string;
  name: string;
  status: 'active' | 'revoked';
  last_seen_at: Date | null;
  created_at: Date;
  revoked_at: Date | null;
}

// Never api_key_hash: nothing above the store needs the digest back.
const NODE_COLUMNS = 'n.id, n.tenant_id, n.name, n.status, n.last_seen_at, n.created_at, n.revoked_at';
const HASH_RE = /^[0-9a-f]{64}$/;

function toNode(r: NodeRow): Node {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    status: r.status,
    lastSeenAt: r.last_seen_at,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

/** A node found by a key digest: by its current key, or by the previous one within a rotation's grace. */
export interface KeyMatch {
  readonly node: Node;
  readonly via: 'current' | 'previous';
  /** The previous key still works (a rotation's grace is running and the new key was not used yet). */
  readonly previousLive: boolean;
  /** When the previous key stops working at the latest; null when there is none. */
  readonly previousExpiresAt: Date | null;
}

/** How a rotation keeps the previous key working for a while (docs/edge-nodes.md, "Key rotation"). */
export interface RotationOverlap {
  /** Per-rotation nonce (32 bytes) a retry re-derives the new key with. */
  readonly nonce: Buffer;
  readonly previousExpiresAt: Date;
}

export interface NodeStore {
  /** Creates an active node; 409 CONFLICT when the tenant already has an active node of that name. */
  create(input: { tenantId: string; name: string; apiKeyHash: string }): Promise<Node>;
  /** The active node (in an active tenant) whose key digest this is, or null. */
  findActiveByKeyHash(hash: string): Promise<Node | null>;
  /**
   * The active node (in an active tenant) whose current key, or whose previous key while its grace
   * runs at `now`, has this digest; null otherwise.
   */
  findByKeyHash(hash: string, now: Date): Promise<KeyMatch | null>;
  findById(id: string): Promise<Node | null>;
  listByTenant(tenantId: string): Promise<Node[]>;
  /**
   * Revokes the node and announces it on NODE_REVOKED_CHANNEL in the same transaction (NOTIFY is
   * delivered on commit, so no instance evicts for a revocation that rolled back). Idempotent:
   * an already revoked node comes back with `alreadyRevoked: true`. Null for an unknown id.
   */
  revoke(id: string): Promise<{ node: Node; alreadyRevoked: boolean } | null>;
  /**
   * Replaces the key digest of an active node and announces it (the old key stops working).
   * With `expectedHash`, only when the current digest is that one (compare-and-swap: of two
   * concurrent rotations with the same old key exactly one wins). Null when nothing was updated.
   */
  rotateKey(id: string, newHash: string, expectedHash?: string, overlap?: RotationOverlap): Promise<Node | null>;
  /**
   * The rotation whose previous key has this digest, while its grace runs at `now` and the new key
   * was not used yet: the new key's digest and the nonce to re-derive it. Null otherwise.
   */
  pendingRotation(
    id: string,
    previousHash: string,
    now: Date,
  ): Promise<{ currentKeyHash: string; nonce: Buffer } | null>;
  /**
   * The new key was used: the previous key stops working, announced on NODE_REVOKED_CHANNEL in the
   * same transaction so every instance evicts it. False when there was nothing to retire.
   */
  retirePreviousKey(id: string, currentHash: string): Promise<boolean>;
  touchLastSeen(id: string): Promise<void>;
  createEnrollment(input: { tenantId: string; name: string; tokenHash: string; expiresAt: Date }): Promise<Enrollment>;
  /**
   * Redeems a one-time enrollment token and creates its node, atomically (docs/edge-nodes.md): the
   * `UPDATE … WHERE used_at IS NULL AND expires_at > now` takes the row lock, so of N concurrent
   * redemptions exactly one sees the row; the others find it used. A throw rolls everything back
   * (the token stays unused). Null when the token is unknown, used, expired or its tenant inactive.
   * `name`, when given, must equal the enrollment's name (case-insensitively), else 409.
   */
  consumeEnrollment(input: {
    tokenHash: string;
    apiKeyHash: string;
    now: Date;
    name?: string;
  }): Promise<{ node: Node; enrollment: Enrollment } | null>;
}

/** Edge nodes and their enrollment tokens (docs/api.md). Keys and tokens are stored as SHA-256 hex only. */
export function createNodeStore(db: Pick<Db, 'query' | 'transaction'>): NodeStore {
  async function insertNode(q: Pick<Db, 'query'>, tenantId: string, name: string, apiKeyHash: string): Promise<Node> {
    try {
      const { rows } = await q.query<NodeRow>(
        `INSERT INTO nodes AS n (tenant_id, name, api_key_hash) VALUES ($1, $2, $3) RETURNING ${NODE_COLUMNS}`,
        [tenantId, name, apiKeyHash],
      );
      return toNode(rows[0] as NodeRow);
    } catch (err) {
      if ((err as { constraint?: string }).constraint === 'nodes_tenant_name_active') {
        throw new GatewayError('CONFLICT', {
          publicMessage: `an active node named "${name}" already exists in this tenant`,
          detail: 'duplicate active node name',
        });
      }
      throw err;
    }
  }

  return {
    create: ({ tenantId, name, apiKeyHash }) => insertNode(db, tenantId, name, apiKeyHash),

    async findActiveByKeyHash(hash) {
      if (!HASH_RE.test(hash)) return null;
      const { rows } = await db.query<NodeRow>(
        `SELECT ${NODE_COLUMNS} FROM nodes n JOIN tenants t ON t.id = n.tenant_id
          WHERE n.api_key_hash = $1 AND n.status = 'active' AND t.status = 'active'`,
        [hash],
      );
      return rows[0] ? toNode(rows[0]) : null;
    },

    async findByKeyHash(hash, now) {
      if (!HASH_RE.test(hash)) return null;
      const { rows } = await db.query<
        NodeRow & { via: 'current' | 'previous'; previous_live: boolean; previous_key_expires_at: Date | null }
      >(
        `SELECT ${NODE_COLUMNS},
                CASE WHEN n.api_key_hash = $1 THEN 'current' ELSE 'previous' END AS via,
                (n.previous_key_hash IS NOT NULL AND n.previous_key_expires_at > $2) AS previous_live,
                n.previous_key_expires_at
           FROM nodes n JOIN tenants t ON t.id = n.tenant_id
          WHERE (n.api_key_hash = $1 OR (n.previous_key_hash = $1 AND n.previous_key_expires_at > $2))
            AND n.status = 'active' AND t.status = 'active'`,
        [hash, now],
      );
      const r = rows[0];
      if (!r) return null;
      return {
        node: toNode(r),
        via: r.via,
        previousLive: r.previous_live,
        previousExpiresAt: r.previous_live ? r.previous_key_expires_at : null,
      };
    },

    async pendingRotation(id, previousHash, now) {
      if (!UUID_RE.test(id) || !HASH_RE.test(previousHash)) return null;
      const { rows } = await db.query<{ api_key_hash: string; rotation_nonce: Buffer }>(
        `SELECT n.api_key_hash, n.rotation_nonce FROM nodes n JOIN tenants t ON t.id = n.tenant_id
          WHERE n.id = $1 AND n.previous_key_hash = $2 AND n.previous_key_expires_at > $3
            AND n.status = 'active' AND t.status = 'active'`,
        [id, previousHash, now],
      );
      const r = rows[0];
      return r ? { currentKeyHash: r.api_key_hash, nonce: Buffer.from(r.rotation_nonce) } : null;
    },

    async retirePreviousKey(id, currentHash) {
      if (!UUID_RE.test(id)) return false;
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          `UPDATE nodes SET previous_key_hash = NULL, previous_key_expires_at = NULL, rotation_nonce = NULL
            WHERE id = $1 AND api_key_hash = $2 AND previous_key_hash IS NOT NULL RETURNING id`,
          [id, currentHash],
        );
        if (!rows[0]) return false;
        await tx.query('SELECT pg_notify($1, $2)', [NODE_REVOKED_CHANNEL, id]);
        return true;
      });
    },

    async findById(id) {
      if (!UUID_RE.test(id)) return null;
      const { rows } = await db.query<NodeRow>(`SELECT ${NODE_COLUMNS} FROM nodes n WHERE n.id = $1`, [id]);
      return rows[0] ? toNode(rows[0]) : null;
    },

    async listByTenant(tenantId) {
      const { rows } = await db.query<NodeRow>(
        `SELECT ${NODE_COLUMNS} FROM nodes n WHERE n.tenant_id = $1 ORDER BY n.created_at, n.id`,
        [tenantId],
      );
      return rows.map(toNode);
    },

    async revoke(id) {
      if (!UUID_RE.test(id)) return null;
      return db.transaction(async (tx) => {
        const updated = await tx.query<NodeRow>(
          `UPDATE nodes AS n SET status = 'revoked', revoked_at = now() WHERE n.id = $1 AND n.status = 'active' RETURNING ${NODE_COLUMNS}`,
          [id],
        );
        let row = updated.rows[0];
        const alreadyRevoked = !row;
        if (!row) {
          row = (await tx.query<NodeRow>(`SELECT ${NODE_COLUMNS} FROM nodes n WHERE n.id = $1`, [id])).rows[0];
          if (!row) return null;
        }
        // Announced even when already revoked: an instance that missed the first NOTIFY (its
        // listener was reconnecting) gets another chance, and eviction is idempotent.
        await tx.query('SELECT pg_notify($1, $2)', [NODE_REVOKED_CHANNEL, id]);
        return { node: toNode(row), alreadyRevoked };
      });
    },

    async rotateKey(id, newHash, expectedHash, overlap) {
      if (!UUID_RE.test(id)) return null;
      return db.transaction(async (tx) => {
        // With an overlap the replaced key becomes the previous one (and any older previous key
        // dies); without one (CLI, quickstart seed) no previous key survives the rotation.
        const { rows } = await tx.query<NodeRow>(
          `UPDATE nodes AS n SET api_key_hash = $2,
                  previous_key_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE n.api_key_hash END,
                  previous_key_expires_at = $4::timestamptz,
                  rotation_nonce = $5::bytea
            WHERE n.id = $1 AND n.status = 'active' AND ($3::text IS NULL OR n.api_key_hash = $3)
            RETURNING ${NODE_COLUMNS}`,
          [id, newHash, expectedHash ?? null, overlap?.previousExpiresAt ?? null, overlap?.nonce ?? null],
        );
        if (!rows[0]) return null;
        await tx.query('SELECT pg_notify($1, $2)', [NODE_REVOKED_CHANNEL, id]);
        return toNode(rows[0]);
      });
    },

    async touchLastSeen(id) {
      await db.query('UPDATE nodes SET last_seen_at = now() WHERE id = $1', [id]);
    },

    ...createEnrollmentQueries(db, insertNode),
  };
}
