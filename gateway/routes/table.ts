import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';

export type Handler = (ctx: RequestContext) => Promise<void>;

/** `"METHOD /exact/path"` → handler; a last segment `{name}` matches any one segment there. */
export type HandlerMap = Readonly<Record<string, Handler>>;

/**
 * Dispatches gateway-owned routes by exact method and path. A known path with another method is
 * 405 with `Allow`; an unknown path under a gateway prefix is 404. HEAD is served by GET handlers.
 */
export function createDispatcher(...maps: HandlerMap[]): Handler {
  const byPath = new Map<string, Map<string, Handler>>();
  for (const map of maps) {
    for (const [key, handler] of Object.entries(map)) {
      const [method = '', declared = ''] = key.split(' ');
      // `/a/{id}` is stored as `/a/{}`: one parameter segment, matched after the exact paths.
      const path = declared.replace(/\/\{[a-z_]+\}$/, '/{}');
      let methods = byPath.get(path);
      if (!methods) {
        methods = new Map<string, Handler>();
        byPath.set(path, methods);
      }
      if (methods.has(method)) throw new Error(`duplicate gateway route ${key}`);
      methods.set(method, handler);
    }
  }
  return async (ctx) => {
    const path = ctx.path.length > 1 && ctx.path.endsWith('/') ? ctx.path.slice(0, -1) : ctx.path;
    const cut = path.lastIndexOf('/');
    const methods = byPath.get(path) ?? (cut > 0 ? byPath.get(`${path.slice(0, cut)}/{}`) : undefined);
    if (!methods) throw new GatewayError('NOT_FOUND');
    const method = ctx.req.method === 'HEAD' ? 'GET' : (ctx.req.method ?? '');
    const handler = methods.get(method);
    if (!handler) {
      const allow = [...methods.keys()];
      if (methods.has('GET') && !methods.has('HEAD')) allow.splice(allow.indexOf('GET') + 1, 0, 'HEAD');
      ctx.res.setHeader('Allow', allow.join(', '));
      throw new GatewayError('METHOD_NOT_ALLOWED');
    }
    await handler(ctx);
  };
}
