import type { RouteDef } from '../config/types.js';

export interface Router {
  /** First route whose prefix matches `path` on a segment boundary, or null (SPEC §7). */
  match(path: string): RouteDef | null;
  readonly routes: readonly RouteDef[];
}

/**
 * Precompiles the route table. Matching is case-sensitive and on segment boundaries: `/ws/agent`
 * matches `/ws/agent` and `/ws/agent/x`, never `/ws/agentx`. First match wins.
 */
export function createRouter(routes: readonly RouteDef[]): Router {
  const compiled = routes.map((route) => ({ route, prefix: route.prefix, withSlash: route.prefix === '/' ? '/' : route.prefix + '/' }));
  return {
    routes,
    match(path) {
      for (const c of compiled) {
        if (path === c.prefix || path.startsWith(c.withSlash)) return c.route;
      }
      return null;
    },
  };
}
