/**
 * Graceful shutdown (docs/operations.md): on SIGTERM the instance says "not ready", stops accepting, lets the
 * requests it already has finish within SHUTDOWN_GRACE_SECONDS, closes WebSockets with 1001
 * (RFC 6455 §7.4.1 "going away"), then closes its connections and pools. Nothing a client already
 * sent is dropped unless it outlives the grace period.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * The requests a server has received and not yet answered, kept by the server's own request
 * handler and its one `close` listener per response: the drainer used to add a second `request`
 * listener and a second `close` listener per response, ~5 µs of every request (bench/README.md profile).
 */
export interface InFlight {
  /** A request arrived. While draining, its response closes the connection (RFC 9112 §9.6). */
  started(res: ServerResponse): void;
  /** Its response closed: finished, or cut because the client or the connection went away. */
  ended(res: ServerResponse): void;
  /** HTTP requests received and not yet answered. */
  count(): number;
}

/** The drainer's side of InFlight: which responses are open, and a wake-up when none is. */
export interface InFlightRequests extends InFlight {
  readonly active: ReadonlySet<ServerResponse>;
  draining: boolean;
  onIdle: (() => void) | null;
}

/** Creates the in-flight registry shared by the server (which fills it) and the drainer. */
export function createInFlight(): InFlightRequests {
  const active = new Set<ServerResponse>();
  const registry: InFlightRequests = {
    active,
    draining: false,
    onIdle: null,
    started(res) {
      if (registry.draining) res.shouldKeepAlive = false;
      active.add(res);
    },
    ended(res) {
      active.delete(res);
      if (active.size === 0) registry.onIdle?.();
    },
    count: () => active.size,
  };
  return registry;
}

export interface DrainerOptions {
  readonly server: Server;
  /** Filled by the server (ServerDeps.inFlight); the drainer waits for it to empty. */
  readonly inFlight: InFlightRequests;
  readonly log: Logger;
  /** How long in-flight requests may take to finish before their connections are cut. */
  readonly graceMs: number;
  /** Closes every proxied WebSocket with 1001 (the WebSocket proxy's registry). */
  readonly closeWebSockets?: () => Promise<void> | void;
  /** Closes pools and clients (Postgres, Redis, upstream agents). Runs last, once. */
  readonly closeResources: () => Promise<void>;
  /** Called once when draining starts (metrics gauge). */
  readonly onDraining?: () => void;
  /** Exports buffered telemetry (spans) after everything else closed; bounded by its own timeout. */
  readonly flushTelemetry?: () => Promise<void>;
}

export interface Drainer {
  /** True from the moment drain() is called: readiness answers 503, upgrades are refused. */
  draining(): boolean;
  /** HTTP requests received and not yet answered. */
  inFlight(): number;
  /** Runs the shutdown sequence once; later calls return the same promise. */
  drain(): Promise<void>;
}

// After the WebSockets are told to go away, wait this long for their sockets to close before cutting.
const SOCKET_CLOSE_WAIT_MS = 2_000;

/**
 * Drains `server`, whose in-flight requests `inFlight` tracks: a response started during the drain
 * carries `Connection: close` (RFC 9112 §9.6), so the client's next request opens a connection to
 * another instance instead of hitting a closing one.
 */
export function createDrainer(options: DrainerOptions): Drainer {
  const { server, log, graceMs, inFlight } = options;
  const active = inFlight.active;
  let draining = false;
  let done: Promise<void> | null = null;

  function waitForIdle(ms: number): Promise<boolean> {
    if (active.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        inFlight.onIdle = null;
        resolve(false);
      }, ms);
      inFlight.onIdle = () => {
        clearTimeout(timer);
        inFlight.onIdle = null;
        resolve(true);
      };
    });
  }

  async function run(): Promise<void> {
    draining = true;
    inFlight.draining = true;
    options.onDraining?.();
    const started = Date.now();
    log.info({ inFlight: active.size, graceMs }, 'draining: readiness 503, no new connections');
    // Stop accepting. Node ≥ 19 also closes keep-alive connections that are idle right now; the
    // callback fires once every connection (upgraded ones included) has gone.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of active) if (!res.headersSent) res.shouldKeepAlive = false;

    const finished = await waitForIdle(graceMs);
    if (!finished) log.warn({ abandoned: active.size, graceMs }, 'grace period over: cutting requests still in flight');

    try {
      await options.closeWebSockets?.();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'closing websockets failed');
    }
    // No HTTP request is in flight any more (or the grace is over): cut what is left, then give
    // the WebSocket sockets a moment to finish their closing handshake.
    server.closeAllConnections();
    // The cut responses emit 'close' as their sockets go: wait for that, so every one of them has
    // its access line written (status 499) before the process exits.
    if (!finished && !(await waitForIdle(SOCKET_CLOSE_WAIT_MS)))
      log.warn({ left: active.size }, 'cut requests did not close');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, SOCKET_CLOSE_WAIT_MS)))]);
    clearTimeout(timer);

    try {
      await options.closeResources();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'closing resources failed');
    }
    // Last, so the spans of the requests finished during the drain are exported too.
    await options.flushTelemetry?.().catch(() => {});
    log.info({ ms: Date.now() - started }, 'drained');
  }

  return {
    draining: () => draining,
    inFlight: () => active.size,
    drain() {
      done ??= run();
      return done;
    },
  };
}
