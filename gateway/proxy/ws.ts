import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
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
import { rawTargetUrl, sanitizeCloseCode, stripTokenParam, validClientHandshake } from './ws-frames.js';

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
  /** Ping period; a side that missed the previous pong is terminated (default 30 s). */
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
  readonly client: WebSocket;
  readonly upstream: WebSocket;
  readonly identity: Identity;
  clientAlive: boolean;
  upstreamAlive: boolean;
  expiry: NodeJS.Timeout | null;
}

/** Client frames are capped (a gateway-side limit); the trusted upstream may send larger ones. */
const CLIENT_MAX_PAYLOAD = 1024 * 1024;
const UPSTREAM_MAX_PAYLOAD = 16 * 1024 * 1024;
/** Backpressure: stop reading a side when the other side has this much queued; resume below LOW. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
const CLOSE_GRACE_MS = 5_000;

/**
 * The WebSocket proxy (RFC 6455, docs/api.md; the `ws` habit: nothing reaches the client until
 * the upstream accepted). `?token=` and `?ticket=` are removed from the upstream URL, identity
 * headers are stripped-then-injected as for HTTP, frames keep their text/binary type with
 * backpressure both ways, close codes are relayed (reserved ones mapped to sendable ones), and a
 * user socket is closed with 1008 when its token expires or isStillValid says it was revoked. One
 * identity holds at most WS_MAX_PER_IDENTITY sockets on this instance (proxy/ws-limit.ts); past it, 429.
 */
export function createWsProxy(deps: WsProxyDeps): WsProxy {
  const { config, log, signer } = deps;
  const clock = deps.clock ?? systemClock;
  const trusts = deps.trusts ?? (() => false);
  const conns = new Set<Conn>();
  // Open sockets by what a revocation names: `j:<jti>`, `s:<sid>`, `u:<user id>`, `n:<node id>`.
  const index = new Map<string, Set<Conn>>();
  const keysOf = (identity: Identity): string[] => {
    if (identity.kind === 'user') return [`j:${identity.jti}`, `u:${identity.userId}`, ...(identity.sid === undefined ? [] : [`s:${identity.sid}`])];
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
  const pending = new Set<WebSocket>();
  const chosenProtocol = new WeakMap<IncomingMessage, string>();
  const slots = createWsIdentityLimiter(config.wsMaxPerIdentity);
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: CLIENT_MAX_PAYLOAD,
    clientTracking: false,
    handleProtocols: (_offered, req) => chosenProtocol.get(req) ?? false,
  });

  const pinger = setInterval(() => {
    for (const c of conns) {
      if (!c.clientAlive) c.client.terminate();
      else if (!c.upstreamAlive) c.upstream.terminate();
      else {
        c.clientAlive = c.upstreamAlive = false;
        c.client.ping();
        c.upstream.ping();
      }
    }
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
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'websocket revalidation failed; keeping sockets open');
        }
      }),
    );
  }

  function end(c: Conn, code: number, reason: string): void {
    if (c.client.readyState === WebSocket.OPEN) c.client.close(code, reason);
    if (c.upstream.readyState === WebSocket.OPEN) c.upstream.close(code === 1008 ? 1000 : 1001, reason);
  }

  function armExpiry(c: Conn, identity: UserIdentity): void {
    const ms = identity.exp * 1000 - clock.now();
    if (ms <= 0) return end(c, 1008, 'token expired');
    c.expiry = setTimeout(() => armExpiry(c, identity), Math.min(ms, MAX_TIMER_MS));
    c.expiry.unref();
  }

  function connectUpstream(ctx: UpgradeContext, socket: Duplex, identity: Identity, assertion: string): Promise<WebSocket> {
    const upstreamBase = new URL(ctx.route?.upstream ?? config.upstreamUrl);
    const scheme = upstreamBase.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = stripTokenParam(ctx.rawQuery);
    // Path and query byte for byte, as HTTP requests get them (rawTargetUrl).
    const url = rawTargetUrl(`${scheme}//${upstreamBase.host}`, ctx.path, query);
    const offered = protocolsOf(ctx.req);
    const span = deps.tracer?.upstream(ctx, `${scheme}//${upstreamBase.host}`) ?? null;
    const headers = buildUpstreamHeaders({ req: ctx.req, requestId: ctx.requestId, trace: span?.trace ?? ctx.trace, identity, assertion, trustedPeer: trusts(ctx.req), websocket: true, strip });
    const upstream = new WebSocket(url, offered, {
      headers,
      perMessageDeflate: false,
      handshakeTimeout: config.upstreamTimeoutMs,
      maxPayload: UPSTREAM_MAX_PAYLOAD,
      followRedirects: false,
    });
    pending.add(upstream);
    return new Promise<WebSocket>((resolve, reject) => {
      const fail = (e: GatewayError) => {
        span?.end(0, e);
        cleanup();
        // terminate() on a CONNECTING socket emits 'error'; unheard, it would crash the process.
        upstream.on('error', ignore);
        upstream.terminate();
        reject(e);
      };
      const onOpen = () => {
        span?.end(101);
        cleanup();
        resolve(upstream);
      };
      const onUnexpected = (_req: unknown, res: IncomingMessage) => {
        res.resume();
        fail(new GatewayError('BAD_GATEWAY', { detail: `upstream refused websocket with ${res.statusCode ?? '?'}` }));
      };
      const onError = (err: Error) => {
        const timedOut = /timed out/i.test(err.message);
        fail(new GatewayError(timedOut ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY', { detail: `upstream websocket: ${err.message}`, cause: err }));
      };
      const onClientGone = () => fail(new GatewayError('BAD_GATEWAY', { detail: 'client closed during the upstream handshake' }));
      const cleanup = () => {
        pending.delete(upstream);
        upstream.off('open', onOpen).off('unexpected-response', onUnexpected).off('error', onError);
        socket.off('close', onClientGone);
      };
      upstream.once('open', onOpen).once('unexpected-response', onUnexpected).once('error', onError);
      socket.once('close', onClientGone);
    });
  }

  function pipe(from: WebSocket, to: WebSocket): void {
    const onSent = () => {
      if (from.isPaused && to.bufferedAmount < LOW_WATER) from.resume();
    };
    from.on('message', (data: RawData, isBinary: boolean) => {
      if (to.readyState !== WebSocket.OPEN) return;
      to.send(data, { binary: isBinary }, onSent);
      if (to.bufferedAmount > HIGH_WATER && !from.isPaused) from.pause();
    });
  }

  return {
    count: () => conns.size,

    closeRevoked(target) {
      const key = 'jti' in target ? `j:${target.jti}` : 'sid' in target ? `s:${target.sid}` : 'userId' in target ? `u:${target.userId}` : `n:${target.nodeId}`;
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
        throw new GatewayError('TOO_MANY_REQUESTS', { detail: `websocket limit per identity (${config.wsMaxPerIdentity}) reached` });
      }
      const upstream = await connectUpstream(ctx, socket, identity, assertion).catch((err: unknown) => {
        release();
        throw err;
      });
      if (upstream.protocol !== '') chosenProtocol.set(ctx.req, upstream.protocol);

      // handleUpgrade calls back synchronously once the 101 is written, or never (bad socket).
      const accepted: { ws: WebSocket | null } = { ws: null };
      wss.handleUpgrade(ctx.req, socket, head, (ws) => {
        accepted.ws = ws;
      });
      const client = accepted.ws;
      if (client === null) {
        // ws refused or the socket died before the 101 was written: nothing to pipe.
        upstream.on('error', ignore);
        upstream.terminate();
        release();
        throw new GatewayError('BAD_GATEWAY', { detail: 'client handshake could not be completed' });
      }
      const c: Conn = { client, upstream, identity, clientAlive: true, upstreamAlive: true, expiry: null };
      track(c);
      deps.onOpen?.();
      client.on('pong', () => (c.clientAlive = true));
      upstream.on('pong', () => (c.upstreamAlive = true));
      client.on('error', (err) => log.debug({ reqId: ctx.requestId, err: err.message }, 'websocket client error'));
      upstream.on('error', (err) => log.debug({ reqId: ctx.requestId, err: err.message }, 'websocket upstream error'));
      pipe(client, upstream);
      pipe(upstream, client);
      const relayClose = (to: WebSocket, fromSide: 'client' | 'upstream') => (code: number, reason: Buffer) => {
        if (untrack(c)) deps.onClose?.();
        release();
        if (c.expiry) clearTimeout(c.expiry);
        if (to.readyState === WebSocket.CLOSED || to.readyState === WebSocket.CLOSING) return;
        const mapped = sanitizeCloseCode(code, fromSide);
        if (mapped === undefined) to.close();
        else to.close(mapped.code, mapped.keepReason ? reason : mapped.reason);
      };
      client.once('close', relayClose(upstream, 'client'));
      upstream.once('close', relayClose(client, 'upstream'));
      if (identity.kind === 'user') armExpiry(c, identity);
    },

    closeAll(code = 1001, reason = 'server shutting down') {
      for (const up of pending) up.terminate();
      for (const c of conns) {
        if (c.client.readyState === WebSocket.OPEN) c.client.close(code, reason);
        if (c.upstream.readyState === WebSocket.OPEN) c.upstream.close(1001, reason);
        const t = setTimeout(() => {
          c.client.terminate();
          c.upstream.terminate();
        }, CLOSE_GRACE_MS);
        t.unref();
      }
      clearInterval(pinger);
      clearInterval(sweeper);
    },
  };
}

function ignore(): void {}

function protocolsOf(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  // A subprotocol carrying a credential (the `access_token, <jwt>` pattern) is not offered upstream.
  return header.split(',').map((p) => p.trim()).filter((p) => p !== '' && !holdsCredential(p));
}
