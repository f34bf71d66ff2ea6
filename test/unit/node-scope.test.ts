/** docs/edge-nodes.md forced node identity: tenant_id / node_id may only name the node itself. */
import { describe, expect, it } from 'vitest';
import { enforceNodeScope } from '../../gateway/auth/node-scope.js';
import type { NodeIdentity } from '../../gateway/auth/types.js';
import { GatewayError } from '../../gateway/errors.js';

const node: NodeIdentity = {
  kind: 'node',
  tenantId: '0b6f3a2e-1c4d-4e5f-8a9b-0c1d2e3f4a5b',
  nodeId: '7e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b',
  nodeName: 'edge-01',
};
const T = node.tenantId;
const N = node.nodeId;
const OTHER = '11111111-2222-4333-8444-555555555555';

function verdict(rawQuery: string): 'ok' | 403 {
  try {
    enforceNodeScope({ rawQuery }, node);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('FORBIDDEN');
    return 403;
  }
}

describe('enforceNodeScope', () => {
  it.each([
    ['', 'ok'],
    ['since=42', 'ok'],
    [`tenant_id=${T}`, 'ok'],
    [`tenant_id=${T.toUpperCase()}`, 'ok'],
    [`node_id=${N}`, 'ok'],
    [`node_id=${N.toUpperCase()}`, 'ok'],
    ['node_id=edge-01', 'ok'],
    [`node_id=edge-01&tenant_id=${T}&since=3`, 'ok'],
    [`tenant_id=${T}&tenant_id=${T}`, 'ok'],
    ['node_id=edge-01&node_id=' + N, 'ok'],
    ['tenant_idx=' + OTHER, 'ok'],
    ['my_tenant_id=' + OTHER, 'ok'],
    ['q=tenant_id%3D' + OTHER, 'ok'],
    [`tenant_id=${OTHER}`, 403],
    ['tenant_id=', 403],
    ['tenant_id', 403],
    ['tenant_id=not-a-uuid', 403],
    [`node_id=${OTHER}`, 403],
    ['node_id=edge-02', 403],
    ['node_id=EDGE-01', 403],
    ['node_id=', 403],
    // percent-encoded names and values
    [`tenant%5Fid=${OTHER}`, 403],
    [`tenant%5fid=${OTHER}`, 403],
    [`%74enant_id=${OTHER}`, 403],
    [`node%5Fid=edge-02`, 403],
    [`tenant%255Fid=${OTHER}`, 403],
    [`tenant_id=${T.replace(/-/g, '%2D')}`, 'ok'],
    [`node_id=edge%2D01`, 'ok'],
    [`node_id=edge%2D02`, 403],
    // spelling variants an upstream framework might fold together
    [`TENANT_ID=${OTHER}`, 403],
    [`Node_Id=edge-02`, 403],
    [`tenant_id[]=${OTHER}`, 403],
    [`tenant_id%5B%5D=${OTHER}`, 403],
    [`+tenant_id=${OTHER}`, 403],
    // qs/PHP array and map syntax, and PHP's folding of '.' and ' ' into '_' in parameter names
    [`tenant_id[0]=${OTHER}`, 403],
    [`tenant_id[x]=${OTHER}`, 403],
    [`tenant_id[][]=${OTHER}`, 403],
    [`node_id[0]=edge-02`, 403],
    [`tenant.id=${OTHER}`, 403],
    [`tenant+id=${OTHER}`, 403],
    [`tenant_id[0]=${T}`, 'ok'],
    [`tenant.id=${T}`, 'ok'],
    [`tenant_idx[0]=${OTHER}`, 'ok'],
    // repeats: any differing occurrence is refused, whichever copy the upstream would pick
    [`tenant_id=${T}&tenant_id=${OTHER}`, 403],
    [`tenant_id=${OTHER}&tenant_id=${T}`, 403],
    [`node_id=edge-01&node_id=edge-02`, 403],
    [`node_id=${N}&node%5Fid=${OTHER}`, 403],
    // `;` as a separator (some frameworks split on it)
    [`since=1;tenant_id=${OTHER}`, 403],
    [`tenant_id=${T};x=1`, 403],
    [`a=b&&tenant_id=${OTHER}`, 403],
  ] as const)('%s → %s', (query, expected) => {
    expect(verdict(query)).toBe(expected);
  });
});
