import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export interface ClientIpResolver {
  /** The client address: the socket peer, unless that peer is a trusted proxy (then X-Forwarded-For). */
  resolve(req: IncomingMessage): string;
  /** Whether the socket peer is a TRUSTED_PROXIES address (its X-Forwarded-* are believed). */
  trusts(req: IncomingMessage): boolean;
}

function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/**
 * Builds the resolver from TRUSTED_PROXIES (IPs or CIDRs). X-Forwarded-For is walked from the
 * right, skipping trusted hops, so a client cannot prepend a fake address (the usual XFF spoof).
 */
export function createClientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  const list = new BlockList();
  for (const entry of trustedProxies) {
    const [ip = '', bits] = entry.split('/');
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  const isTrusted = (ip: string) => {
    if (trustedProxies.length === 0 || ip === '') return false;
    const family = isIP(ip);
    if (family === 0) return false;
    return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
  const peer = (req: IncomingMessage) => stripV4Mapped(req.socket.remoteAddress ?? '');

  return {
    trusts: (req) => isTrusted(peer(req)),
    resolve(req) {
      const direct = peer(req);
      if (!isTrusted(direct)) return direct;
      const xff = req.headers['x-forwarded-for'];
      if (xff === undefined) return direct;
      const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((s) => stripV4Mapped(s.trim()));
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i] as string;
        if (isIP(hop) === 0) return direct;
        if (!isTrusted(hop)) return hop;
      }
      return hops[0] ?? direct;
    },
  };
}
