import type { RouteDef } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { foldPath } from './paths.js';

export interface Router {
  /** First route whose prefix matches `path` on a segment boundary, or null. */
  match(path: string): RouteDef | null;
  /**
   * match(), refusing (400 INVALID_PATH) a routed path whose folded form (foldPath: case, trailing dots
   * and spaces, zero-width characters) falls under another route than the exact path: an upstream
   * that routes case-insensitively or trims would serve it from another route's handler.
   */
  route(path: string): RouteDef | null;
  readonly routes: readonly RouteDef[];
}

/**
 * Precompiles the route table, exact and folded (foldPath). Matching is case-sensitive and on
 * segment boundaries: `/ws/agent` matches `/ws/agent` and `/ws/agent/x`, never `/ws/agentx`.
 * First match wins.
 */
export function createRouter(routes: readonly RouteDef[]): Router {
  const compile = (prefix: string, route: RouteDef) => ({ route, prefix, withSlash: prefix === '/' ? '/' : prefix + '/' });
  const compiled = routes.map((route) => compile(route.prefix, route));
  const folded = routes.map((route) => compile(foldPath(route.prefix).replace(/(.)\/$/, '$1'), route));
  const first = (table: typeof compiled, path: string): RouteDef | null => {
    for (const c of table) {
      if (path === c.prefix || path.startsWith(c.withSlash)) return c.route;
    }
    return null;
  };
  return {
    routes,
    match: (path) => first(compiled, path),
    route(path) {
      const exact = first(compiled, path);
      // No route: a 404 from the gateway itself, nothing is served that could be confused.
      if (exact === null) return null;
      const alt = foldPath(path);
      if (alt !== path && first(folded, alt) !== exact) throw new GatewayError('INVALID_PATH', { detail: 'path folds (case, trailing dots or spaces, invisible characters) onto another route' });
      return exact;
    },
  };
}
