import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { readJsonBody } from '../http/body.js';
import { RegisterBody } from '../http/schemas/nodes.js';
import { NO_STORE, sendData } from '../http/reply.js';
import type { Lockout } from '../auth/lockout.js';
import { ENROLLMENT_TOKEN_RE, generateNodeKey, hashKey, type NodeKeyAuthenticator } from '../auth/node-keys.js';
import type { NodeKeyDeriver } from '../auth/node-key-rotation.js';
import { enforceNodeScope } from '../auth/node-scope.js';
import { bearerToken } from '../auth/user-auth.js';
import type { AuditLog } from '../store/audit.js';
import type { NodeStore } from '../store/nodes.js';
import { userAgent } from '../http/request.js';
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
  /** Derives (and re-derives, on a retry) the new key of a rotation. */
  readonly deriver: NodeKeyDeriver;
  /** NODE_KEY_ROTATION_GRACE_SECONDS: how long the previous key keeps working after a rotation. */
  readonly rotationGraceSeconds: number;
  /** Called once per refused node credential on these routes (metrics); authorize has its own. */
  readonly onNodeFailure?: (reason: NodeFailureReason) => void;
}

/**
 * Gateway-owned node endpoints (docs/edge-nodes.md):
 * - `POST /api/v1/nodes/register` `{enrollment_token, name?}` → 201 `{node_id, tenant_id, api_key}`.
 *   The token is a one-time secret a platform admin issued (`cli node enroll`); it is redeemed and
 *   the node created in one transaction. A bad token is 401 `invalid credentials`: like a login
 *   password it travels in the body, so "authorization header" would be the wrong thing to blame.
 * - `POST /api/v1/nodes/rotate-key` (Bearer: the current key) → 200 `{node_id, tenant_id, api_key}`.
 *   The previous key keeps working for NODE_KEY_ROTATION_GRACE_SECONDS or until the new key is first
 *   used, whichever comes first; a retry with the previous key within that time answers the same
 *   new key (docs/edge-nodes.md, "Key rotation").
 * Failures are throttled per client IP together with failed node keys on proxied routes.
 */
export function createNodeRoutes(deps: NodeRouteDeps): HandlerMap {
  const { nodes, nodeKeys, lockout, audit, clock, log, deriver } = deps;
  const graceSeconds = deps.rotationGraceSeconds;

  /** The new key of the rotation whose previous key was presented, while its grace runs; else null. */
  async function sameKeyAgain(nodeId: string, presented: string, presentedHash: string): Promise<string | null> {
    const pending = await nodes.pendingRotation(nodeId, presentedHash, new Date(clock.now()));
    if (!pending) return null;
    const raw = deriver.rederive(presented, pending.nonce, pending.currentKeyHash);
    if (raw === null)
      log.warn(
        { nid: nodeId },
        'node key rotation retry: no server secret re-derives the new key (AUTH_JWT_SECRET changed during the grace?)',
      );
    return raw;
  }

  async function refuse(
    ctx: RequestContext,
    reason: NodeFailureReason,
    detail: Record<string, unknown>,
  ): Promise<void> {
    deps.onNodeFailure?.(reason);
    await lockout.failIp('node', ctx.ip);
    void audit.record({
      event: 'node_auth_failure',
      ip: ctx.ip,
      requestId: ctx.requestId,
      userAgent: userAgent(ctx),
      detail: { path: ctx.path, ...detail },
    });
  }

  return {
    'POST /api/v1/nodes/register': async (ctx) => {
      const body = await readJsonBody(ctx.req, RegisterBody);
      await lockout.checkIp('node', ctx.ip);
      const token = body.enrollment_token;
      // A malformed token is refused without a query, but counted like any other wrong one.
      const key = generateNodeKey();
      const redeemed = ENROLLMENT_TOKEN_RE.test(token)
        ? await nodes.consumeEnrollment({
            tokenHash: hashKey(token),
            apiKeyHash: key.hash,
            now: new Date(clock.now()),
            name: body.name,
          })
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
      // Authenticating with the new key of a rotation retires the previous one (auth/node-keys.ts).
      const identity = presented ? await nodeKeys.authenticate(presented) : null;
      if (!presented || !identity) {
        await refuse(ctx, 'key', { reason: presented ? 'invalid node key' : 'missing node key' });
        throw new GatewayError('UNAUTHENTICATED');
      }
      ctx.identity = identity;
      enforceNodeScope(ctx, identity);
      const presentedHash = hashKey(presented);
      // A retry: the presented key is the previous key of a rotation still in its grace (the node
      // lost the answer). It gets the same new key again, never a third one.
      let answer = await sameKeyAgain(identity.nodeId, presented, presentedHash);
      let retry = answer !== null;
      if (answer === null) {
        const next = deriver.rotate(presented);
        const previousExpiresAt = new Date(clock.now() + graceSeconds * 1000);
        // Compare-and-swap on the presented key: of two concurrent rotations with one key one wins;
        // the loser finds the winner's rotation and answers its key (a retry, seen from the node).
        const rotated = await nodes.rotateKey(identity.nodeId, next.hash, presentedHash, {
          nonce: next.nonce,
          previousExpiresAt,
        });
        nodeKeys.evictNode(identity.nodeId);
        if (rotated) answer = next.rawKey;
        else {
          answer = await sameKeyAgain(identity.nodeId, presented, presentedHash);
          retry = answer !== null;
        }
      }
      if (answer === null) {
        await refuse(ctx, 'key', { reason: 'key changed or node revoked during rotation', node_id: identity.nodeId });
        throw new GatewayError('UNAUTHENTICATED');
      }
      void audit.record({
        event: 'node_key_rotated',
        tenantId: identity.tenantId,
        nodeId: identity.nodeId,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: userAgent(ctx),
        detail: { name: identity.nodeName, retry, grace_seconds: graceSeconds },
      });
      sendData(ctx.res, { node_id: identity.nodeId, tenant_id: identity.tenantId, api_key: answer }, 200, NO_STORE);
    },
  };
}
