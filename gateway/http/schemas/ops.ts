/** Schemas of the public operations endpoints (docs/operations.md) and the JWKS (docs/upstream-integration.md). */
import { Type } from 'typebox';
import { Success, type ApiOperations } from './common.js';

const UpDown = Type.Union([Type.Literal('up'), Type.Literal('down')]);
const Checks = Type.Object({ postgres: UpDown, redis: UpDown }, { additionalProperties: false });

/** The 503 of /readyz: the error envelope plus which dependency failed (names and up/down only). */
export const NotReady = Type.Object(
  {
    status: Type.Literal('error'),
    message: Type.Literal('service unavailable'),
    data: Type.Object(
      {
        status: Type.Union([Type.Literal('draining'), Type.Literal('unavailable')]),
        failed: Type.Array(Type.Union([Type.Literal('postgres'), Type.Literal('redis')])),
        checks: Checks,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** RFC 7517 key set of Ed25519 public keys (RFC 8037), the current one first. */
export const Jwks = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          kty: Type.Literal('OKP'),
          crv: Type.Literal('Ed25519'),
          x: Type.String(),
          kid: Type.String(),
          alg: Type.Literal('EdDSA'),
          use: Type.Literal('sig'),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

export const OPS_OPERATIONS: ApiOperations = {
  'GET /healthz': {
    summary: 'Liveness: the process answers',
    tag: 'ops',
    security: 'public',
    responses: {
      200: {
        description: 'Alive.',
        schema: Success(Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })),
      },
    },
    errors: [],
  },
  'GET /readyz': {
    summary: 'Readiness: Postgres and Redis answer and the instance is not draining',
    tag: 'ops',
    security: 'public',
    responses: {
      200: {
        description: 'Ready.',
        schema: Success(
          Type.Object({ status: Type.Literal('ready'), checks: Checks }, { additionalProperties: false }),
        ),
      },
      503: {
        description: 'Not ready (a dependency is down, or the instance is draining); `Retry-After: 5`.',
        schema: NotReady,
      },
    },
    errors: [],
  },
  'GET /.well-known/jwks.json': {
    summary: 'The public keys upstreams verify X-G2D-Identity with',
    description: 'Cacheable for 5 minutes; a verifier refetches on an unknown `kid`.',
    tag: 'ops',
    security: 'public',
    responses: { 200: { description: 'The key set.', schema: Jwks, contentType: 'application/jwk-set+json' } },
    errors: [],
  },
  'GET /openapi.json': {
    summary: 'This document',
    tag: 'ops',
    security: 'public',
    responses: { 200: { description: 'The OpenAPI 3.1 document.', schema: Type.Object({ openapi: Type.String() }) } },
    errors: [],
  },
};
