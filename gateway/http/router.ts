import type { RouteDef } from '../config/types.js';

export interface Router {
  /** First route whose prefix matches `path` on a segment boundary, or null (docs/configuration.md). */
  match(path: string): RouteDef | null;
  readonly routes: readonly RouteDef[];
  /** Swaps in a new table at once (SIGHUP reload): a request matches wholly the old or the new one. */
  replace(routes: readonly RouteDef[]): void;
}

/**
 * Precompiles the route table. Matching is case-sensitive and on segment boundaries: `/ws/agent`
 * matches `/ws/agent` and `/ws/agent/x`, never `/ws/agentx`. First match wins.
 */
export function createRouter(initial: readonly RouteDef[]): Router {
  const compile = (routes: readonly RouteDef[]) =>
    routes.map((route) => ({ route, prefix: route.prefix, withSlash: route.prefix === '/' ? '/' : route.prefix + '/' }));
  let routes = initial;
  let compiled = compile(initial);
  return {
    get routes() {
      return routes;
    },
    replace(next) {
      compiled = compile(next);
      routes = next;
    },
    match(path) {
      for (const c of compiled) {
        if (path === c.prefix || path.startsWith(c.withSlash)) return c.route;
      }
      return null;
    },
  };
}
