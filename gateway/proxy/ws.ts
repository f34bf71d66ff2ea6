import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { IdentitySigner } from '../auth/identity.js';
import type { Identity, UserIdentity } from '../auth/types.js';
import { GatewayError } from '../errors.js';
import type { UpgradeContext } from '../http/context.js';
import type { Tracer } from '../http/tracer.js';
import { createWsIdentityLimiter } from './ws-limit.js';
import { holdsCredential } from '../util/credentials.js';
import { buildUpstreamHeaders, compileHeaderStrip } from './headers.js';
import { stripTokenParam, validClientHandshake } from './ws-frames.js';
import { acceptClient, dialUpstream, type PendingDial, type UpstreamSocket } from './ws-handshake.js';
import { startRelay, type Relay } from './ws-relay.js';

export interface WsProxyDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly signer: IdentitySigner;
  readonly clock?: Clock;
  /** The lead's revocation check (revoked jti, password changed, user disabled). A throw keeps the socket (docs/operations.md: Redis down, traffic flows). */
  readonly isStillValid?: (identity: UserIdentity) => Promise<boolean>;
  readonly trusts?: (req: IncomingMessage) => boolean;
  /** How often user sockets are re-checked with isStillValid (default 5 s, docs/security-model.md). */
  readonly revalidateIntervalMs?: number;
  /** Ping period; a side that sent nothing since the previous ping (not even its pong) is cut (default 30 s). */
  readonly pingIntervalMs?: number;
  /** A proxied socket opened / closed (the open-WebSockets gauge). */
  readonly onOpen?: () => void;
  readonly onClose?: () => void;
  /** An upgrade refused because its identity holds WS_MAX_PER_IDENTITY sockets already (a metric). */
  readonly onLimited?: () => void;
  /** Span export (ops/tracing.ts): the upstream handshake is a `proxy.upstream` span. */
  readonly tracer?: Tracer | null;
}

export interface WsProxy {
  /** Opens the upstream socket, then completes the (already authorized) client handshake and pipes frames. */
  upgrade(ctx: UpgradeContext, socket: Duplex, head: Buffer, identity: Identity): Promise<void>;
  /** Closes every proxied socket (1001 on shutdown, docs/operations.md); stragglers are terminated after a grace. */
  closeAll(code?: number, reason?: string): void;
  /** Open proxied sockets (metrics). */
  count(): number;
  /**
   * Closes at once (1008) every socket a pushed revocation concerns: by the access token's `jti`,
   * its session `sid`, the user (every socket of that user) or the node. Returns how many.
   */
  closeRevoked(target: { jti: string } | { sid: string } | { userId: string } | { nodeId: string }): number;
}

interface Conn {
  readonly identity: Identity;
  relay: Relay | null;
  expiry: NodeJS.Timeout | null;
}

/** Client messages are capped (a gateway-side limit); the trusted upstream may send larger ones. */
const CLIENT_MAX_PAYLOAD = 1024 * 1024;
const UPSTREAM_MAX_PAYLOAD = 16 * 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
const CLOSE_GRACE_MS = 5_000;

/**
 * The WebSocket proxy (RFC 6455, docs/api.md; nothing reaches the client until the upstream
 * accepted). `?token=` and `?ticket=` are removed from the upstream URL, identity headers are
 * stripped-then-injected as for HTTP. After both handshakes (proxy/ws-handshake.ts) frames pass as
 * bytes between the two TCP sockets with backpressure both ways (proxy/ws-relay.ts): messages are
 * capped at 1 MiB from the client and 16 MiB from the upstream (1009 on both sides past it), close
 * codes are relayed (reserved ones mapped to sendable ones), and a user socket is closed with 1008
 * at a frame boundary when its token expires or is revoked. One identity holds at most
 * WS_MAX_PER_IDENTITY sockets on this instance (proxy/ws-limit.ts); past it, 429.
 */
export function createWsProxy(deps: WsProxyDeps): WsProxy {
  const { config, log, signer } = deps;
  const clock = deps.clock ?? systemClock;
  const trusts = deps.trusts ?? (() => false);
  const conns = new Set<Conn>();
  // Open sockets by what a revocation names: `j:<jti>`, `s:<sid>`, `u:<user id>`, `n:<node id>`.
  const index = new Map<string, Set<Conn>>();
  const keysOf = (identity: Identity): string[] => {
    if (identity.kind === 'user')
      return [
        `j:${identity.jti}`,
        `u:${identity.userId}`,
        ...(identity.sid === undefined ? [] : [`s:${identity.sid}`]),
      ];
    if (identity.kind === 'node') return [`n:${identity.nodeId}`];
    return [];
  };
  const track = (c: Conn) => {
    conns.add(c);
    for (const key of keysOf(c.identity)) {
      let set = index.get(key);
      if (!set) index.set(key, (set = new Set()));
      set.add(c);
    }
  };
  const untrack = (c: Conn): boolean => {
    if (!conns.delete(c)) return false;
    for (const key of keysOf(c.identity)) {
      const set = index.get(key);
      set?.delete(c);
      if (set?.size === 0) index.delete(key);
    }
    return true;
  };
  const strip = compileHeaderStrip(config.stripClientHeaders);
  const pending = new Set<PendingDial>();
  const slots = createWsIdentityLimiter(config.wsMaxPerIdentity);

  // Liveness: each side is pinged at a frame boundary; one silent for a whole period is cut.
  const pinger = setInterval(() => {
    for (const c of conns) c.relay?.tick();
  }, deps.pingIntervalMs ?? 30_000);
  pinger.unref();

  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping || !deps.isStillValid) return;
    sweeping = true;
    void revalidate().finally(() => (sweeping = false));
  }, deps.revalidateIntervalMs ?? 5_000);
  sweeper.unref();

  async function revalidate(): Promise<void> {
    const check = deps.isStillValid;
    if (!check) return;
    const groups = new Map<string, Conn[]>();
    const nowSec = clock.now() / 1000;
    for (const c of conns) {
      if (c.identity.kind !== 'user') continue;
      if (c.identity.exp <= nowSec) {
        end(c, 1008, 'token expired');
        continue;
      }
      const key = `${c.identity.userId}\n${c.identity.jti}`;
      const group = groups.get(key);
      if (group) group.push(c);
      else groups.set(key, [c]);
    }
    await Promise.all(
      [...groups.values()].map(async (group) => {
        try {
          if (await check((group[0] as Conn).identity as UserIdentity)) return;
          for (const c of group) end(c, 1008, 'token revoked');
        } catch (err) {
          log.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'websocket revalidation failed; keeping sockets open',
          );
        }
      }),
    );
  }

  /** The client gets `code`; the upstream 1000 after a revocation or expiry (its peer left normally), else 1001. */
  function end(c: Conn, code: number, reason: string): void {
    c.relay?.close(code, code === 1008 ? 1000 : 1001, reason);
  }

  function armExpiry(c: Conn, identity: UserIdentity): void {
    const ms = identity.exp * 1000 - clock.now();
    if (ms <= 0) return end(c, 1008, 'token expired');
    c.expiry = setTimeout(() => armExpiry(c, identity), Math.min(ms, MAX_TIMER_MS));
    c.expiry.unref();
  }

  async function connectUpstream(
    ctx: UpgradeContext,
    socket: Duplex,
    identity: Identity,
    assertion: string,
  ): Promise<UpstreamSocket> {
    const origin = new URL(ctx.route?.upstream ?? config.upstreamUrl);
    const query = stripTokenParam(ctx.rawQuery);
    const span = deps.tracer?.upstream(ctx, `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}`) ?? null;
    const headers = buildUpstreamHeaders({
      req: ctx.req,
      requestId: ctx.requestId,
      trace: span?.trace ?? ctx.trace,
      identity,
      assertion,
      trustedPeer: trusts(ctx.req),
      websocket: true,
      strip,
    });
    // Path and query byte for byte, as HTTP requests get them.
    const dial = dialUpstream({
      origin,
      target: query === '' ? ctx.path : `${ctx.path}?${query}`,
      headers,
      protocols: protocolsOf(ctx.req),
      timeoutMs: config.upstreamTimeoutMs,
    });
    pending.add(dial);
    const onClientGone = () => dial.abort('client closed during the upstream handshake');
    socket.once('close', onClientGone);
    try {
      const upstream = await dial.done;
      span?.end(101);
      return upstream;
    } catch (err) {
      span?.end(0, err);
      throw err;
    } finally {
      pending.delete(dial);
      socket.off('close', onClientGone);
    }
  }

  return {
    count: () => conns.size,

    closeRevoked(target) {
      const key =
        'jti' in target
          ? `j:${target.jti}`
          : 'sid' in target
            ? `s:${target.sid}`
            : 'userId' in target
              ? `u:${target.userId}`
              : `n:${target.nodeId}`;
      const set = index.get(key);
      if (!set) return 0;
      const doomed = [...set];
      for (const c of doomed) end(c, 1008, 'revoked');
      return doomed.length;
    },

    async upgrade(ctx, socket, head, identity) {
      const problem = validClientHandshake(ctx.req);
      if (problem !== null) throw new GatewayError('INVALID_HANDSHAKE', { detail: problem });
      const assertion = await signer.sign(identity);
      // One identity holds at most WS_MAX_PER_IDENTITY sockets here: refused before the upstream is dialled.
      const release = slots.acquire(identity);
      if (release === null) {
        deps.onLimited?.();
        throw new GatewayError('TOO_MANY_REQUESTS', {
          detail: `websocket limit per identity (${config.wsMaxPerIdentity}) reached`,
        });
      }
      const upstream = await connectUpstream(ctx, socket, identity, assertion).catch((err: unknown) => {
        release();
        throw err;
      });
      if (!acceptClient(socket, ctx.req, upstream.protocol)) {
        upstream.socket.destroy();
        release();
        throw new GatewayError('BAD_GATEWAY', { detail: 'client handshake could not be completed' });
      }
      const c: Conn = { identity, relay: null, expiry: null };
      track(c);
      deps.onOpen?.();
      const settle = () => {
        if (untrack(c)) deps.onClose?.();
        release();
        if (c.expiry) clearTimeout(c.expiry);
      };
      c.relay = startRelay({
        client: socket,
        upstream: upstream.socket,
        clientHead: head,
        upstreamHead: upstream.head,
        clientMaxMessage: CLIENT_MAX_PAYLOAD,
        upstreamMaxMessage: UPSTREAM_MAX_PAYLOAD,
        closeGraceMs: CLOSE_GRACE_MS,
        onClosing: settle,
        onEnd: settle,
        onError: (side, err) => log.debug({ reqId: ctx.requestId, err: err.message }, `websocket ${side} error`),
      });
      if (identity.kind === 'user' && conns.has(c)) armExpiry(c, identity);
    },

    closeAll(code = 1001, reason = 'server shutting down') {
      for (const dial of pending) dial.abort('server shutting down');
      for (const c of conns) c.relay?.close(code, 1001, reason);
      clearInterval(pinger);
      clearInterval(sweeper);
    },
  };
}

function protocolsOf(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  // A subprotocol carrying a credential (the `access_token, <jwt>` pattern) is not offered upstream.
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !holdsCredential(p));
}
