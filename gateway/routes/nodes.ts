import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { readJsonBody } from '../http/body.js';
import { NO_STORE, sendData } from '../http/reply.js';
import type { Lockout } from '../auth/lockout.js';
import { ENROLLMENT_TOKEN_RE, generateNodeKey, hashKey, type NodeKeyAuthenticator } from '../auth/node-keys.js';
import { enforceNodeScope } from '../auth/node-scope.js';
import { bearerToken } from '../auth/user-auth.js';
import type { AuditLog } from '../store/audit.js';
import type { NodeStore } from '../store/nodes.js';
import { userAgent } from './login.js';
import type { HandlerMap } from './table.js';

/** Why a node credential was refused (metrics label; never the credential). */
export type NodeFailureReason = 'enrollment' | 'key';

export interface NodeRouteDeps {
  readonly nodes: NodeStore;
  readonly nodeKeys: Pick<NodeKeyAuthenticator, 'authenticate' | 'evictNode'>;
  /** Per-IP failure throttle, scope `node` (key `ipfail:node:<ip>`, AUTH_LOGIN_IP_LIMIT). */
  readonly lockout: Pick<Lockout, 'checkIp' | 'failIp'>;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called once per refused node credential on these routes (metrics); authorize has its own. */
  readonly onNodeFailure?: (reason: NodeFailureReason) => void;
}

/**
 * Gateway-owned node endpoints (SPEC §6):
 * - `POST /api/v1/nodes/register` `{enrollment_token, name?}` → 201 `{node_id, tenant_id, api_key}`.
 *   The token is a one-time secret a platform admin issued (`cli node enroll`); it is redeemed and
 *   the node created in one transaction. A bad token is 401 `invalid credentials`: like a login
 *   password it travels in the body, so "authorization header" would be the wrong thing to blame.
 * - `POST /api/v1/nodes/rotate-key` (Bearer: the current key) → 200 `{node_id, tenant_id, api_key}`;
 *   the old key is dead here at once and on every instance within seconds (NOTIFY).
 * Failures are throttled per client IP together with failed node keys on proxied routes.
 */
export function createNodeRoutes(deps: NodeRouteDeps): HandlerMap {
  const { nodes, nodeKeys, lockout, audit, clock, log } = deps;

  async function refuse(ctx: RequestContext, reason: NodeFailureReason, detail: Record<string, unknown>): Promise<void> {
    deps.onNodeFailure?.(reason);
    await lockout.failIp('node', ctx.ip);
    void audit.record({ event: 'node_auth_failure', ip: ctx.ip, requestId: ctx.requestId, userAgent: userAgent(ctx), detail: { path: ctx.path, ...detail } });
  }

  return {
    'POST /api/v1/nodes/register': async (ctx) => {
      const body = await readJsonBody(ctx.req, { enrollment_token: 'string', name: 'string?' });
      await lockout.checkIp('node', ctx.ip);
      if (body.name !== undefined && (body.name.trim().length === 0 || body.name.length > 200)) {
        throw new GatewayError('INVALID_BODY', { detail: 'name must be 1 to 200 characters' });
      }
      const token = body.enrollment_token;
      // A malformed token is refused without a query, but counted like any other wrong one.
      const key = generateNodeKey();
      const redeemed = ENROLLMENT_TOKEN_RE.test(token)
        ? await nodes.consumeEnrollment({ tokenHash: hashKey(token), apiKeyHash: key.hash, now: new Date(clock.now()), name: body.name })
        : null;
      if (!redeemed) {
        await refuse(ctx, 'enrollment', { reason: 'invalid enrollment token' });
        throw new GatewayError('INVALID_CREDENTIALS', { detail: 'enrollment token unknown, used or expired' });
      }
      const { node, enrollment } = redeemed;
      void audit.record({
        event: 'node_registered',
        tenantId: node.tenantId,
        nodeId: node.id,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: userAgent(ctx),
        detail: { name: node.name, enrollment_id: enrollment.id, via: 'enrollment' },
      });
      log.info({ reqId: ctx.requestId, tid: node.tenantId, nid: node.id }, 'node registered');
      sendData(ctx.res, { node_id: node.id, tenant_id: node.tenantId, api_key: key.rawKey }, 201, NO_STORE);
    },

    'POST /api/v1/nodes/rotate-key': async (ctx) => {
      // No body is defined; whatever was sent is discarded so the connection stays reusable.
      ctx.req.resume();
      const presented = bearerToken(ctx.req);
      await lockout.checkIp('node', ctx.ip);
      const identity = presented ? await nodeKeys.authenticate(presented) : null;
      if (!presented || !identity) {
        await refuse(ctx, 'key', { reason: presented ? 'invalid node key' : 'missing node key' });
        throw new GatewayError('UNAUTHENTICATED');
      }
      ctx.identity = identity;
      enforceNodeScope(ctx, identity);
      const key = generateNodeKey();
      // Compare-and-swap on the presented key: two concurrent rotations with one key yield one
      // new key, and the loser is told its key is no longer valid (which is true).
      const rotated = await nodes.rotateKey(identity.nodeId, key.hash, hashKey(presented));
      nodeKeys.evictNode(identity.nodeId);
      if (!rotated) {
        await refuse(ctx, 'key', { reason: 'key changed or node revoked during rotation', node_id: identity.nodeId });
        throw new GatewayError('UNAUTHENTICATED');
      }
      void audit.record({
        event: 'node_key_rotated',
        tenantId: rotated.tenantId,
        nodeId: rotated.id,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: userAgent(ctx),
        detail: { name: rotated.name },
      });
      sendData(ctx.res, { node_id: rotated.id, tenant_id: rotated.tenantId, api_key: key.rawKey }, 200, NO_STORE);
    },
  };
}
