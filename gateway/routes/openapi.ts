import { renderOpenApi } from '../http/openapi.js';
import type { HandlerMap } from './table.js';

/**
 * `GET /openapi.json` (docs/api.md): the OpenAPI 3.1 document of the gateway-owned endpoints.
 * Public; built and serialized once (it changes only with the code).
 */
export function openApiRoutes(version: string): HandlerMap {
  const body = renderOpenApi(version);
  const length = String(Buffer.byteLength(body));
  return {
    'GET /openapi.json': async ({ req, res }) => {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Length', length);
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
