import { GatewayError } from '../errors.js';
import { paramName } from '../util/credentials.js';
import type { AuthRequest, NodeIdentity } from './types.js';

type ScopedName = 'tenant_id' | 'node_id';

/**
 * The scoped parameter a query name stands for, judged by paramName (util/credentials.ts), the
 * parser authentication and the log scrubber use too: percent-decoded repeatedly, case-folded,
 * trimmed, without trailing `[]`/`[0]`/`[key]` groups, with `.`, `-` and ` ` read as `_`.
 * Over-matching costs nothing: a request naming its own tenant or node passes whatever the spelling.
 */
export function scopedName(name: string): ScopedName | null {
  const n = paramName(name);
  return n === 'tenant_id' || n === 'node_id' ? n : null;
}

function allowed(which: ScopedName, value: string, node: NodeIdentity): boolean {
  // UUIDs compare case-insensitively (Postgres accepts either case); the name must match exactly.
  if (which === 'tenant_id') return value.toLowerCase() === node.tenantId.toLowerCase();
  return value.toLowerCase() === node.nodeId.toLowerCase() || value === node.nodeName;
}

/**
 * Every `tenant_id` / `node_id` parameter in a raw query, under any spelling scopedName accepts,
 * with its (once-decoded) value. `;` counts as a separator too (a second reading of the query), so
 * one parameter may be yielded twice; callers judge values, never counts.
 */
export function* scopedParams(rawQuery: string): Generator<{ readonly which: ScopedName; readonly value: string }> {
  if (rawQuery === '') return;
  const readings = rawQuery.includes(';') ? [rawQuery, rawQuery.replaceAll(';', '&')] : [rawQuery];
  for (const reading of readings) {
    for (const [name, value] of new URLSearchParams(reading)) {
      const which = scopedName(name);
      if (which) yield { which, value };
    }
  }
}

/**
 * Forced node identity: a node may name only itself. Any `tenant_id` other than the
 * node's tenant id, or any `node_id` other than its id or name, is 403 `forbidden` and nothing
 * reaches the upstream. Every occurrence counts (a repeated parameter with one foreign value is
 * refused, whichever copy the upstream would pick), and `;` is treated as a separator too, since
 * some frameworks split on it.
 */
export function enforceNodeScope(ctx: Pick<AuthRequest, 'rawQuery'>, node: NodeIdentity): void {
  for (const { which, value } of scopedParams(ctx.rawQuery)) {
    if (!allowed(which, value, node)) {
      throw new GatewayError('FORBIDDEN', {
        detail: `node ${node.nodeId} named another ${which === 'tenant_id' ? 'tenant' : 'node'}`,
      });
    }
  }
}
