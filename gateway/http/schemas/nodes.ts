/** Request and response schemas of the gateway-owned node endpoints (docs/edge-nodes.md). */
import { Type } from 'typebox';
import { Body, Optional, Success, Uuid, type ApiOperations } from './common.js';

/** The names the nodes table accepts: 1 to 200 characters, not only whitespace. */
export const RegisterBody = Body(
  { enrollment_token: Type.String(), name: Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' })) },
  'A one-time enrollment token a platform admin issued (`cli node enroll`); `name` must match the one it was issued for, if any.',
);

export const NodeKey = Type.Object(
  {
    node_id: Uuid,
    tenant_id: Uuid,
    api_key: Type.String({ pattern: '^g2dn_[A-Za-z0-9_-]{43}$', description: 'Shown once; never stored.' }),
  },
  { additionalProperties: false },
);

export const NODE_OPERATIONS: ApiOperations = {
  'POST /api/v1/nodes/register': {
    summary: 'Register an edge node with an enrollment token',
    description: 'A bad, used or expired token is 401 `invalid credentials` and counts toward the per-IP throttle.',
    tag: 'nodes',
    security: 'public',
    body: { schema: RegisterBody },
    responses: { 201: { description: 'Registered: the node’s key.', schema: Success(NodeKey) } },
    errors: ['INVALID_CREDENTIALS', 'CONFLICT', 'TOO_MANY_REQUESTS', 'SERVICE_UNAVAILABLE'],
  },
  'POST /api/v1/nodes/rotate-key': {
    summary: 'Replace the node’s key',
    description:
      'The previous key keeps working for NODE_KEY_ROTATION_GRACE_SECONDS or until the new key is first used; a retry with it within that time answers the same new key. No body.',
    tag: 'nodes',
    security: 'node',
    responses: { 200: { description: 'The new key.', schema: Success(NodeKey) } },
    errors: ['UNAUTHENTICATED', 'FORBIDDEN', 'TOO_MANY_REQUESTS', 'SERVICE_UNAVAILABLE'],
  },
};
