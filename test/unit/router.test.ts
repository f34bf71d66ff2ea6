/** Route table matching: first match wins, on segment boundaries, case-sensitive. */
import { describe, expect, it } from 'vitest';
import type { RouteDef } from '../../gateway/config/types.js';
import { createRouter } from '../../gateway/http/router.js';

const route = (prefix: string, extra: Partial<RouteDef> = {}): RouteDef => ({
  prefix,
  upstream: 'http://127.0.0.1:1',
  auth: 'user',
  websocket: false,
  ...extra,
});

describe('createRouter', () => {
  const agent = route('/ws/agent', { websocket: true });
  const api = route('/api');
  const root = route('/');
  const router = createRouter([agent, api, root]);

  it('matches the prefix itself and paths below it', () => {
    expect(router.match('/ws/agent')).toBe(agent);
    expect(router.match('/ws/agent/x/y')).toBe(agent);
    expect(router.match('/api')).toBe(api);
  });
  it('never matches across a segment boundary', () => {
    expect(router.match('/ws/agentx')).toBe(root);
    expect(router.match('/apix')).toBe(root);
  });
  it('is case-sensitive', () => {
    expect(router.match('/API/x')).toBe(root);
  });
  it('first match wins', () => {
    const first = route('/a');
    const second = route('/a');
    expect(createRouter([first, second]).match('/a/b')).toBe(first);
  });
  it('answers null when nothing matches', () => {
    expect(createRouter([api]).match('/other')).toBeNull();
    expect(createRouter([]).match('/')).toBeNull();
  });
  it('exposes the table it was built from', () => {
    expect(router.routes).toEqual([agent, api, root]);
  });
});
