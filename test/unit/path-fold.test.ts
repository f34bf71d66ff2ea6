/**
 * Route confusion by case and trailing junk: a path whose lenient reading (case-folded, trailing
 * dots and spaces and zero-width characters removed) falls under another route than its exact form
 * is refused with 400, so no upstream that routes case-insensitively or trims can be handed a node
 * or auth path as a user request.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_ROUTES, GATEWAY_ROUTES } from '../../gateway/config/index.js';
import type { RouteDef } from '../../gateway/config/types.js';
import { GatewayError } from '../../gateway/errors.js';
import { splitTarget } from '../../gateway/http/paths.js';
import { createRouter } from '../../gateway/http/router.js';

const ROUTES: RouteDef[] = [...GATEWAY_ROUTES, ...DEFAULT_PROXY_ROUTES];
const router = createRouter(ROUTES);

function routed(target: string): RouteDef | null | 'invalid' {
  try {
    return router.route(splitTarget(target).path);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('INVALID_PATH');
    return 'invalid';
  }
}

/** An independent lenient reading: what Express (case-insensitive) plus a trimming server would route on. */
function lenient(target: string): RouteDef | null {
  const segs = target
    .split('?')[0]!
    .slice(1)
    .split('/')
    .map((s) =>
      decodeURIComponent(s)
        .normalize('NFKC')
        .toLowerCase()
        .replace(/[\u00ad\u200b-\u200f\u2060\ufeff]/g, '')
        .trim()
        .replace(/[.\s]+$/, ''),
    )
    .filter((s) => s !== '');
  const path = `/${segs.join('/')}`;
  for (const r of ROUTES) {
    const p = r.prefix.toLowerCase();
    if (path === p || path.startsWith(`${p}/`)) return r;
  }
  return null;
}

describe('route confusion by case and trailing junk → 400', () => {
  it.each([
    '/api/v1/NODES/x',
    '/api/v1/Nodes',
    '/api/v1/nodes./x',
    '/api/v1/nodes%20/x',
    '/api/v1/nodes%E2%80%8B/x',
    '/api/v1/no%C2%ADdes/x',
    '/api/v1/nodes%EF%BB%BF/x',
    '/api/v1/%20/nodes/x',
    '/api/v1/AUTH/me',
    '/api/v1/auth./me',
    '/api/v1/EDGE/health',
    '/api/v1/%EF%BD%8Eodes/x',
  ])('%s', (target) => {
    expect(routed(target)).toBe('invalid');
  });

  it.each([
    ['/api/v1/Calls/ABC', '/api/v1'],
    ['/api/v1/calls/1.json', '/api/v1'],
    ['/api/v1/nodes/X.Y', '/api/v1/nodes'],
    ['/.well-known/jwks.json', '/.well-known/jwks.json'],
    ['/api/v1/edge/health/Deep', '/api/v1/edge/health'],
  ])('%s stays where it is', (target, prefix) => {
    expect((routed(target) as RouteDef).prefix).toBe(prefix);
  });

  it.each(['/API/v1/calls', '/HEALTHZ', '/Ws/agent'])(
    '%s matches no route: 404 from the gateway, nothing served',
    (target) => {
      expect(routed(target)).toBeNull();
    },
  );

  it('property: a path built from route prefixes with case changes and junk goes where its folded form goes, or is refused (or matches nothing)', () => {
    const junk = fc.constantFrom('', '', '.', '..', '%20', '%E2%80%8B', '%C2%AD', '%EF%BB%BF', '%20.', '%09');
    const seg = fc
      .tuple(fc.stringMatching(/^[a-z0-9-]{1,8}$/), fc.array(fc.boolean(), { maxLength: 8 }), junk)
      .map(([s, up, j]) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('') + j);
    const prefix = fc.constantFrom(...ROUTES.map((r) => r.prefix)).chain((p) =>
      fc
        .tuple(
          fc.array(fc.boolean(), { minLength: p.length, maxLength: p.length }),
          fc.array(junk, { minLength: 4, maxLength: 4 }),
        )
        .map(([up, js]) => {
          let i = 0;
          const cased = [...p].map((c) => (up[i++] ? c.toUpperCase() : c)).join('');
          return cased
            .split('/')
            .map((s, k) => (k > 0 && k <= 4 ? s + (js[k - 1] ?? '') : s))
            .join('/');
        }),
    );
    fc.assert(
      fc.property(prefix, fc.array(seg, { maxLength: 3 }), (p, rest) => {
        const target = [p, ...rest].join('/');
        const got = routed(target);
        // Refused, or no route at all (the gateway answers 404 itself): nothing is served.
        if (got === 'invalid' || got === null) return;
        expect(got, target).toBe(lenient(target));
      }),
      { numRuns: 2000 },
    );
  });
});
