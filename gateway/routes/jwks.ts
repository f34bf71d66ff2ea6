import type { IdentitySigner } from '../auth/identity.js';
import type { HandlerMap } from './table.js';

/**
 * `GET /.well-known/jwks.json` (docs/upstream-integration.md): the public keys upstreams verify X-G2D-Identity with.
 * Public and cacheable for 5 minutes: a rotation publishes the new key next to the old one
 * (IDENTITY_PREVIOUS_PUBLIC_KEYS) longer than that, and verifiers refetch on an unknown `kid`.
 */
export function jwksRoutes(signer: IdentitySigner): HandlerMap {
  // Serialized once per key set: the set changes only on a SIGHUP reload (a new frozen object).
  let set = signer.jwks();
  let body = JSON.stringify(set);
  let length = String(Buffer.byteLength(body));
  return {
    'GET /.well-known/jwks.json': async ({ req, res }) => {
      if (signer.jwks() !== set) {
        set = signer.jwks();
        body = JSON.stringify(set);
        length = String(Buffer.byteLength(body));
      }
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/jwk-set+json');
      res.setHeader('Content-Length', length);
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
