import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { IdentitySigner } from '../auth/identity.js';
import type { Identity } from '../auth/types.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { buildUpstreamHeaders, filterResponseHeaders } from './headers.js';

export interface HttpProxyDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly signer: IdentitySigner;
  readonly clock?: Clock;
  /** Whether the socket peer is in TRUSTED_PROXIES (its X-Forwarded-* are extended, not replaced). */
  readonly trusts?: (req: IncomingMessage) => boolean;
  /** Called once per exchange with the time from sending upstream to the response head (or the failure). */
  readonly onUpstream?: (ctx: RequestContext, ms: number, status: number) => void;
}

export interface HttpProxy {
  /** Streams the request to its route's upstream and the answer back; throws 502/504 before headers are sent. */
  forward(ctx: RequestContext, identity: Identity): Promise<void>;
  /** Closes every upstream pool (in-flight requests finish first). */
  close(): Promise<void>;
}

interface Exchange {
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly clock: Clock;
  status: number;
  headersAt: number;
}

/** Writes the upstream status and filtered headers, then lets undici stream the body straight into `res`. */
function startResponse({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<Exchange>): Writable {
  opaque.status = statusCode;
  opaque.headersAt = opaque.clock.now();
  opaque.res.writeHead(statusCode, filterResponseHeaders(headers, opaque.requestId));
  return opaque.res;
}

/**
 * Aborts the upstream request when the client goes away. undici takes an EventEmitter as its
 * `signal` (Dispatcher options: `AbortSignal | EventEmitter`): one costs a fraction of an
 * AbortController, whose EventTarget listener add/remove measured ~30 µs per proxied request
 * (issue 6, bench/README.md).
 */
class ClientGone extends EventEmitter {
  aborted = false;

  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * The HTTP proxy (SPEC §7). undici was measured against http-proxy and node:http on this machine
 * (Pool.stream ≈ 2× http-proxy, ≈ 1.3× node:http with a keep-alive Agent; see the issue), so: one
 * keep-alive undici Pool per upstream origin, the normalized path + raw query forwarded as-is,
 * bodies streamed both ways without buffering or a size cap, UPSTREAM_TIMEOUT_MS as the headers
 * and body-idle timeout. Refused/reset → 502, timeout → 504; once headers are out, an upstream
 * failure destroys the client socket (a truncated body must not look complete). A client that goes
 * away aborts the upstream request.
 */
export function createHttpProxy(deps: HttpProxyDeps): HttpProxy {
  const { config, log, signer } = deps;
  const clock = deps.clock ?? systemClock;
  const trusts = deps.trusts ?? (() => false);
  const pools = new Map<string, Pool>();
  const timeout = config.upstreamTimeoutMs;

  const poolFor = (upstream: string): Pool => {
    const origin = new URL(upstream).origin;
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 1024,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        connectTimeout: Math.min(timeout, 10_000),
        keepAliveTimeout: 4_000,
      });
      pools.set(origin, pool);
    }
    return pool;
  };
  // Pools for every configured upstream are built up front; a route's URL string maps to its pool.
  const byUrl = new Map<string, Pool>();
  for (const url of new Set([config.upstreamUrl, ...config.routes.flatMap((r) => (r.upstream ? [r.upstream] : []))])) byUrl.set(url, poolFor(url));

  return {
    async forward(ctx, identity) {
      const { req, res } = ctx;
      const upstream = ctx.route?.upstream ?? config.upstreamUrl;
      const pool = byUrl.get(upstream) ?? poolFor(upstream);
      const assertion = await signer.sign(identity);
      const headers = buildUpstreamHeaders({ req, requestId: ctx.requestId, trace: ctx.trace, identity, assertion, trustedPeer: trusts(req) });
      const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

      const abort = new ClientGone();
      const onClose = () => {
        if (!res.writableFinished) abort.fire();
      };
      res.once('close', onClose);
      const started = clock.now();
      const exchange: Exchange = { res, requestId: ctx.requestId, clock, status: 0, headersAt: started };
      try {
        await pool.stream(
          {
            path: ctx.rawQuery === '' ? ctx.path : `${ctx.path}?${ctx.rawQuery}`,
            method: req.method ?? 'GET',
            headers,
            body: hasBody ? req : null,
            signal: abort,
            opaque: exchange,
          },
          startResponse,
        );
        deps.onUpstream?.(ctx, exchange.headersAt - started, exchange.status);
      } catch (err) {
        if (abort.aborted || (req.destroyed && !req.complete)) {
          // The client went away; undici has already torn the upstream request down.
          log.debug({ reqId: ctx.requestId }, 'client aborted proxied request');
          return;
        }
        const code = (err as { code?: string }).code ?? '';
        const e = TIMEOUT_CODES.has(code)
          ? new GatewayError('GATEWAY_TIMEOUT', { detail: `upstream ${new URL(upstream).origin}: ${code}`, cause: err })
          : new GatewayError('BAD_GATEWAY', { detail: `upstream ${new URL(upstream).origin}: ${code || (err as Error).message}`, cause: err });
        deps.onUpstream?.(ctx, clock.now() - started, e.status);
        if (res.headersSent) res.destroy();
        throw e;
      } finally {
        res.off('close', onClose);
      }
    },

    async close() {
      await Promise.allSettled([...pools.values()].map((p) => p.close()));
    },
  };
}
