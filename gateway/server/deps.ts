import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Authorize } from '../auth/authorize.js';
import type { Identity } from '../auth/types.js';
import type { ContextBase, RequestContext, UpgradeContext } from '../http/context.js';
import type { ClientIpResolver } from '../http/client-ip.js';
import type { Cors } from '../http/cors.js';
import type { Router } from '../http/router.js';
import type { InFlight } from '../ops/shutdown.js';
import type { Tracer } from '../ops/tracing.js';

/** What the server needs; every piece is built by the composition root (app.ts). */
export interface ServerDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly router: Router;
  readonly clientIp: ClientIpResolver;
  readonly cors: Cors;
  /** Serves a gateway-owned route (auth endpoints, ops, JWKS, node registration). */
  readonly gateway: (ctx: RequestContext) => Promise<void>;
  /**
   * Authenticates and authorizes a proxied request or upgrade, then continues with `next` and its
   * identity; refusals (401/403/400/404) reject. A cached user continues synchronously.
   */
  readonly authorize: Authorize;
  /**
   * Request limits (ratelimit/limiter.ts): throws 429 when the identity is over a limit. Absent
   * when no limit is configured, so an unlimited gateway pays one check per request.
   */
  readonly rateLimit?: (ctx: RequestContext | UpgradeContext, identity: Identity) => void;
  /** Sends an authorized request upstream and streams the answer back. */
  readonly proxy: (ctx: RequestContext, identity: Identity) => Promise<void>;
  /** Completes an authorized WebSocket upgrade and pipes frames to the upstream. */
  readonly upgrade: (ctx: UpgradeContext, socket: Duplex, head: Buffer, identity: Identity) => Promise<void>;
  /** Called once per finished request (metrics). */
  readonly onFinish?: (ctx: ContextBase, status: number) => void;
  /** Requests in flight, for the drainer (ops/shutdown.ts); kept by this server's one close listener. */
  readonly inFlight?: InFlight;
  readonly isDraining: () => boolean;
  readonly now?: () => number;
  /** Span export (ops/tracing.ts); absent when tracing is off, so a request pays one check. */
  readonly tracer?: Tracer | null;
}
