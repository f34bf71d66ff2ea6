/**
 * SIGHUP reload (docs/operations.md): re-reads the route table and the rotation key lists, and
 * swaps them in only when all of them are valid. A bad file keeps everything as it was and says
 * why in one error line; a good one logs what changed as counts, never a key or a secret.
 */
import type { Logger } from 'pino';
import type { IdentitySigner } from '../auth/identity.js';
import type { TokenService } from '../auth/tokens.js';
import type { Reloadable } from '../config/reload.js';
import type { RouteDef } from '../config/types.js';
import type { Router } from '../http/router.js';

export interface ReloaderDeps {
  /** Reads and validates the settings again (config/reload.ts readReloadable); throws when invalid. */
  readonly read: () => Reloadable;
  readonly router: Router;
  readonly tokens: Pick<TokenService, 'setPreviousSecrets'>;
  readonly signer: Pick<IdentitySigner, 'setPreviousPublicKeys' | 'jwks'>;
  readonly log: Logger;
  /** The lists in force at start (the router and signer know their own). */
  readonly previousSecrets: readonly string[];
  readonly previousPublicKeys: readonly string[];
}

export interface Reloader {
  /** One reload; resolves true when the new settings are in force, false when the old ones stay. Never throws. */
  reload(): Promise<boolean>;
}

const routeKey = (r: RouteDef) =>
  JSON.stringify([r.prefix, r.auth, r.upstream ?? null, r.roles ?? null, r.websocket ?? false]);

function diff<T>(before: readonly T[], after: readonly T[], key: (x: T) => string) {
  const a = new Set(before.map(key));
  const b = new Set(after.map(key));
  return {
    total: after.length,
    added: [...b].filter((k) => !a.has(k)).length,
    removed: [...a].filter((k) => !b.has(k)).length,
  };
}

/** Creates the SIGHUP handler's work; reloads run one at a time. */
export function createReloader(deps: ReloaderDeps): Reloader {
  let secrets = deps.previousSecrets;
  let publicKeys = deps.previousPublicKeys;
  let chain: Promise<boolean> = Promise.resolve(true);

  async function reloadOnce(): Promise<boolean> {
    let next: Reloadable;
    try {
      next = deps.read();
    } catch (err) {
      const problems = (err as { problems?: readonly string[] }).problems ?? [
        err instanceof Error ? err.message : String(err),
      ];
      deps.log.error({ problems }, 'reload failed: keeping the current routes and keys');
      return false;
    }
    const jwksBefore = deps.signer.jwks().keys.length;
    try {
      // The one step that can still fail (a key that is not Ed25519); it swaps nothing when it throws.
      await deps.signer.setPreviousPublicKeys(next.previousPublicKeys);
    } catch (err) {
      deps.log.error(
        { problems: [err instanceof Error ? err.message : String(err)] },
        'reload failed: keeping the current routes and keys',
      );
      return false;
    }
    const routes = diff(deps.router.routes, next.routes, routeKey);
    const secretChanges = diff(secrets, next.previousSecrets, (s) => s);
    deps.router.replace(next.routes);
    deps.tokens.setPreviousSecrets(next.previousSecrets);
    secrets = next.previousSecrets;
    const keyChanges = diff(publicKeys, next.previousPublicKeys, (k) => k.trim());
    publicKeys = next.previousPublicKeys;
    deps.log.info(
      {
        routes,
        previousSecrets: secretChanges,
        previousPublicKeys: keyChanges,
        jwksKeys: { before: jwksBefore, after: deps.signer.jwks().keys.length },
      },
      'reloaded routes and rotation keys',
    );
    return true;
  }

  return {
    reload() {
      chain = chain.then(reloadOnce, reloadOnce);
      return chain;
    },
  };
}
