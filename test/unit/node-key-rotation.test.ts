/** Node-key rotation derivation: new keys are derived, re-derivable for a retry, never stored. */
import { describe, expect, it } from 'vitest';
import { createNodeKeyDeriver } from '../../gateway/auth/node-key-rotation.js';
import { generateNodeKey, hashKey, NODE_KEY_RE } from '../../gateway/auth/node-keys.js';

const A = 'secret-a-secret-a-secret-a-0123';
const B = 'secret-b-secret-b-secret-b-0123';

describe('createNodeKeyDeriver', () => {
  it('rotate answers a node key, its digest and a fresh nonce each time', () => {
    const d = createNodeKeyDeriver([A]);
    const presented = generateNodeKey().rawKey;
    const one = d.rotate(presented);
    const two = d.rotate(presented);
    expect(one.rawKey).toMatch(NODE_KEY_RE);
    expect(one.hash).toBe(hashKey(one.rawKey));
    expect(one.nonce).toHaveLength(32);
    expect(two.rawKey).not.toBe(one.rawKey);
  });

  it('rederive finds the same key from the presented key, the nonce and the digest', () => {
    const d = createNodeKeyDeriver([A]);
    const presented = generateNodeKey().rawKey;
    const r = d.rotate(presented);
    expect(d.rederive(presented, r.nonce, r.hash)).toBe(r.rawKey);
  });

  it('the database alone (nonce + digests) does not yield the key: another presented key derives nothing', () => {
    const d = createNodeKeyDeriver([A]);
    const r = d.rotate(generateNodeKey().rawKey);
    expect(d.rederive(generateNodeKey().rawKey, r.nonce, r.hash)).toBeNull();
  });

  it('after AUTH_JWT_SECRET rotated, a retry re-derives with a previous secret', () => {
    const presented = generateNodeKey().rawKey;
    const r = createNodeKeyDeriver([A]).rotate(presented);
    expect(createNodeKeyDeriver([B, A]).rederive(presented, r.nonce, r.hash)).toBe(r.rawKey);
    expect(createNodeKeyDeriver([B]).rederive(presented, r.nonce, r.hash)).toBeNull();
  });

  it('refuses no secret or an empty one', () => {
    expect(() => createNodeKeyDeriver([])).toThrow();
    expect(() => createNodeKeyDeriver([A, ''])).toThrow();
  });
});
