import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { sendError } from './reply.js';

export interface Cors {
  /** True when the request's Origin (if any) may talk to us: absent, or listed when a list is set. */
  originAllowed(req: IncomingMessage): boolean;
  /** Adds allow headers for a listed Origin (never echoes an unlisted one). */
  decorate(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Whether an upstream's `Access-Control-*` response headers may reach this client: always when
   * no HTTP_ALLOWED_ORIGINS is set (the upstream runs its own CORS); with a list, only for a
   * request whose Origin is listed (never for an unlisted one, nor for a request without Origin).
   */
  forwardsAccessControl(req: IncomingMessage): boolean;
  /** A CORS preflight (OPTIONS + Origin + Access-Control-Request-Method). */
  isPreflight(req: IncomingMessage): boolean;
  /** Answers a preflight: 204 with the allow headers for a listed origin, 403 otherwise. */
  preflight(req: IncomingMessage, res: ServerResponse): number;
}

const ALLOW_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const ALLOW_HEADERS_DEFAULT = 'Authorization, Content-Type, X-Request-Id, If-None-Match, traceparent';
const EXPOSE = 'X-Request-Id, Retry-After, WWW-Authenticate';

/** CORS per HTTP_ALLOWED_ORIGINS: exact `scheme://host[:port]` matches only. */
export function createCors(allowedOrigins: readonly string[]): Cors {
  const allowed = new Set(allowedOrigins);
  const originOf = (req: IncomingMessage) => (typeof req.headers.origin === 'string' ? req.headers.origin : undefined);
  return {
    originAllowed(req) {
      const origin = originOf(req);
      return origin === undefined || allowed.size === 0 || allowed.has(origin);
    },
    decorate(req, res) {
      const origin = originOf(req);
      res.appendHeader('Vary', 'Origin');
      if (origin !== undefined && allowed.has(origin)) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Access-Control-Expose-Headers', EXPOSE);
      }
    },
    forwardsAccessControl(req) {
      if (allowed.size === 0) return true;
      const origin = originOf(req);
      return origin !== undefined && allowed.has(origin);
    },
    isPreflight(req) {
      return (
        req.method === 'OPTIONS' &&
        originOf(req) !== undefined &&
        req.headers['access-control-request-method'] !== undefined
      );
    },
    preflight(req, res) {
      const origin = originOf(req);
      res.setHeader('Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      if (origin === undefined || !allowed.has(origin)) {
        // Refused in the error envelope like every other error (it was an empty 403).
        sendError(
          res,
          new GatewayError('FORBIDDEN', { detail: 'preflight from an origin not in HTTP_ALLOWED_ORIGINS' }),
        );
        return 403;
      }
      const requested = req.headers['access-control-request-headers'];
      res.statusCode = 204;
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
      res.setHeader(
        'Access-Control-Allow-Headers',
        typeof requested === 'string' && /^[A-Za-z0-9_,\s-]{1,512}$/.test(requested)
          ? requested
          : ALLOW_HEADERS_DEFAULT,
      );
      res.setHeader('Access-Control-Max-Age', '600');
      res.end();
      return 204;
    },
  };
}
