/** Client address: the socket peer, unless a TRUSTED_PROXIES peer vouches through X-Forwarded-For. */
import { afterEach, describe, expect, it } from 'vitest';
import { createClientIpResolver } from '../../gateway/http/client-ip.js';
import { startProbe } from '../helpers/app.js';

let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

/** The resolver's answer for a real request from 127.0.0.1 carrying `xff`. */
async function resolveWith(trusted: string[], xff?: string | string[]): Promise<{ ip: string; trusts: boolean }> {
  const resolver = createClientIpResolver(trusted);
  const probe = await startProbe((req, res) => {
    res.end(JSON.stringify({ ip: resolver.resolve(req), trusts: resolver.trusts(req) }));
  });
  close = () => probe.close();
  const headers = new Headers();
  for (const v of xff === undefined ? [] : Array.isArray(xff) ? xff : [xff]) headers.append('x-forwarded-for', v);
  return (await fetch(probe.url, { headers })).json() as Promise<{ ip: string; trusts: boolean }>;
}

describe('createClientIpResolver', () => {
  it('no trusted proxies: the peer, whatever X-Forwarded-For says', async () => {
    expect(await resolveWith([], '203.0.113.9')).toEqual({ ip: '127.0.0.1', trusts: false });
  });

  it('trusted peer: the rightmost untrusted hop', async () => {
    expect(await resolveWith(['127.0.0.1'], '198.51.100.1, 203.0.113.9')).toEqual({ ip: '203.0.113.9', trusts: true });
  });

  it('a client cannot prepend a fake address past a trusted chain', async () => {
    expect((await resolveWith(['127.0.0.0/8', '10.0.0.0/8'], '1.2.3.4, 203.0.113.9, 10.1.2.3')).ip).toBe('203.0.113.9');
  });

  it('every hop trusted: the leftmost', async () => {
    expect((await resolveWith(['127.0.0.1', '10.0.0.0/8'], '10.0.0.1, 10.0.0.2')).ip).toBe('10.0.0.1');
  });

  it('a garbage hop stops the walk at the peer', async () => {
    expect((await resolveWith(['127.0.0.1'], 'not-an-ip')).ip).toBe('127.0.0.1');
    expect((await resolveWith(['127.0.0.1'], '203.0.113.9, <script>')).ip).toBe('127.0.0.1');
  });

  it('trusted peer without X-Forwarded-For: the peer', async () => {
    expect((await resolveWith(['127.0.0.1'])).ip).toBe('127.0.0.1');
  });

  it('IPv4-mapped IPv6 hops count as IPv4', async () => {
    expect((await resolveWith(['127.0.0.1', '10.0.0.0/8'], '::ffff:203.0.113.7, ::ffff:10.0.0.1')).ip).toBe(
      '203.0.113.7',
    );
  });

  it('IPv6 subnets', async () => {
    expect((await resolveWith(['127.0.0.1', '2001:db8::/32'], '2001:db9::1, 2001:db8::5')).ip).toBe('2001:db9::1');
  });
});
