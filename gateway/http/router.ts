import type { RouteDef } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { foldPath } from './paths.js';

export interface Router {
  /** First route whose prefix matches `path` on a segment boundary, or null (docs/configuration.md). */
  match(path: string): RouteDef | null;
  /**
   * match(), refusing (400 INVALID_PATH) a routed path whose folded form (foldPath: case, trailing dots
   * and spaces, zero-width characters) falls under another route than the exact path: an upstream
   * that routes case-insensitively or trims would serve it from another route's handler.
   */
  route(path: string): RouteDef | null;
  readonly routes: readonly RouteDef[];
  /** Swaps in a new table at once (SIGHUP reload): a request matches wholly the old or the new one. */
  replace(routes: readonly RouteDef[]): void;
}

/**
 * Precompiles the route table, exact and folded (foldPath). Matching is case-sensitive and on
 * segment boundaries: `/ws/agent` matches `/ws/agent` and `/ws/agent/x`, never `/ws/agentx`.
 * First match wins.
 */
export function createRouter(initial: readonly RouteDef[]): Router {
  const entry = (prefix: string, route: RouteDef) => ({
    route,
    prefix,
    withSlash: prefix === '/' ? '/' : prefix + '/',
  });
  type Table = ReturnType<typeof entry>[];
  const compile = (table: readonly RouteDef[]) => ({
    routes: table,
    exact: table.map((route) => entry(route.prefix, route)),
    folded: table.map((route) => entry(foldPath(route.prefix).replace(/(.)\/$/, '$1'), route)),
  });
  const first = (table: Table, path: string): RouteDef | null => {
    for (const c of table) {
      if (path === c.prefix || path.startsWith(c.withSlash)) return c.route;
    }
    return null;
  };
  // One variable holds the whole compiled table, so a reload swaps it in a single assignment.
  let current = compile(initial);
  return {
    get routes() {
      return current.routes;
    },
    replace(next) {
      current = compile(next);
    },
    match: (path) => first(current.exact, path),
    route(path) {
      const table = current;
      const exact = first(table.exact, path);
      // No route: a 404 from the gateway itself, nothing is served that could be confused.
      if (exact === null) return null;
      const alt = foldPath(path);
      if (alt !== path && first(table.folded, alt) !== exact)
        throw new GatewayError('INVALID_PATH', {
          detail: 'path folds (case, trailing dots or spaces, invisible characters) onto another route',
        });
      return exact;
    },
  };
}
