import type { IdentitySigner } from '../auth/identity.js';
import type { HandlerMap } from './table.js';

/**
 * `GET /.well-known/jwks.json` (SPEC §8): the public keys upstreams verify X-G2D-Identity with.
 * Public and cacheable for 5 minutes: a rotation publishes the new key next to the old one
 * (IDENTITY_PREVIOUS_PUBLIC_KEYS) longer than that, and verifiers refetch on an unknown `kid`.
 */
export function jwksRoutes(signer: IdentitySigner): HandlerMap {
  // The set never changes while the process runs: serialize it once.
  const body = JSON.stringify(signer.jwks());
  const length = String(Buffer.byteLength(body));
  return {
    'GET /.well-known/jwks.json': async ({ req, res }) => {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/jwk-set+json');
      res.setHeader('Content-Length', length);
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
