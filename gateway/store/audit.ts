import type { Logger } from 'pino';
import { redactSecrets } from '../util/credentials.js';
import type { Db } from './pg.js';

export type AuditEventName =
  | 'login_success'
  | 'login_failure'
  | 'lockout'
  | 'logout'
  | 'password_change'
  | 'bootstrap'
  | 'tenant_override'
  | 'node_registered'
  | 'node_key_rotated'
  | 'node_revoked'
  | 'node_auth_failure'
  | 'session_revoked'
  | 'logout_all'
  | 'refresh_reuse'
  | 'mfa_enabled'
  | 'mfa_disabled'
  | 'mfa_failure'
  | 'recovery_code_used';

export interface AuditEvent {
  readonly event: AuditEventName;
  readonly tenantId?: string | null;
  readonly userId?: string | null;
  readonly nodeId?: string | null;
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  readonly requestId?: string | null;
  readonly detail?: Record<string, unknown>;
}

export interface AuditLog {
  /** Writes the event to `auth_events` and the log. Never throws: an audit outage must not fail a login. */
  record(event: AuditEvent): Promise<void>;
}

/** Audit trail: every auth event goes to Postgres and to the log. */
export function createAuditLog(db: Pick<Db, 'query'>, log: Logger): AuditLog {
  return {
    async record(event) {
      const e = scrubbed(event);
      log.info(
        {
          audit: e.event,
          tid: e.tenantId,
          sub: e.userId,
          nid: e.nodeId,
          ip: e.ip,
          reqId: e.requestId,
          detail: e.detail,
        },
        'audit',
      );
      try {
        await db.query(
          `INSERT INTO auth_events (event, tenant_id, user_id, node_id, ip, user_agent, request_id, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            e.event,
            e.tenantId ?? null,
            e.userId ?? null,
            e.nodeId ?? null,
            e.ip ?? null,
            e.userAgent?.slice(0, 512) ?? null,
            e.requestId ?? null,
            JSON.stringify(e.detail ?? {}),
          ],
        );
      } catch (err) {
        log.error({ audit: e.event, err: err instanceof Error ? err.message : String(err) }, 'audit write failed');
      }
    },
  };
}

/**
 * The event without credentials: a request path or a User-Agent can carry a JWT or a node key
 * (`/api/v1/edge/<key>`), and neither the log nor `auth_events` may hold one (docs/security-model.md).
 */
function scrubbed(e: AuditEvent): AuditEvent {
  let detail = e.detail;
  if (detail !== undefined) {
    for (const [k, v] of Object.entries(detail)) {
      if (typeof v === 'string' && redactSecrets(v) !== v) detail = { ...detail, [k]: redactSecrets(v) };
    }
  }
  const userAgent = typeof e.userAgent === 'string' ? redactSecrets(e.userAgent) : e.userAgent;
  return detail === e.detail && userAgent === e.userAgent ? e : { ...e, detail, userAgent };
}
