/**
 * What the request path calls to trace itself (docs/operations.md, tracing). Only the interface
 * lives here, below the proxy and the routes; ops/tracing.ts loads the OpenTelemetry adapter that
 * implements it, and nothing is loaded when tracing is off.
 */
import type { ContextBase } from './context.js';

export type ChildSpanName = 'auth.verify_token' | 'auth.verify_node_key' | 'auth.password_verify';

export interface ChildSpan {
  /** Ends the span; an error marks it failed (its code or class name only, never its message). */
  end(error?: unknown, attributes?: Readonly<Record<string, string | number | boolean>>): void;
}

/** The span of one upstream exchange (HTTP request or WebSocket handshake). */
export interface UpstreamSpan {
  /** The W3C trace context to send upstream: its `traceparent` names this span. */
  readonly trace: { readonly traceparent: string; readonly parentId: string | null };
  /** `status` is the upstream's answer (0 when there was none); an error marks the span failed. */
  end(status: number, error?: unknown): void;
}

export interface Tracer {
  /** Starts a child of the request's server span (which starts with the request, at ctx.startedAt). */
  child(ctx: ContextBase, name: ChildSpanName): ChildSpan;
  /** Starts the client span of the upstream call for `upstreamUrl` (an origin, or a ws(s) URL). */
  upstream(ctx: ContextBase, upstreamUrl: string): UpstreamSpan;
  /** Remembers why a request failed (its error code), for the server span that `finish` ends. */
  recordError(ctx: ContextBase, error: { readonly code: string }): void;
  /** Ends the request's server span with the status logged for it (once per request, from the access log). */
  finish(ctx: ContextBase, status: number, error?: { readonly code: string }): void;
  /** Exports what is buffered and stops, within `timeoutMs`. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** How long shutdown waits for the last export before giving up (the drain has its own deadline). */
