/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1) answered only once the gateway wants the body. Node
 * answers `100 Continue` by itself unless the server listens for 'checkContinue'; the server does,
 * marks the request here, and the interim response is sent when the request is authenticated
 * (proxied routes) or its body is actually read (gateway-owned routes). A request refused before
 * that gets its final answer with `Connection: close` (Node adds it when no 100 was sent) and its
 * body is never read: an unauthenticated client cannot make the gateway swallow a large upload.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const awaiting = new WeakMap<IncomingMessage, ServerResponse>();

/** Marks a request that asked for `100 Continue` and has not had it (the server's 'checkContinue'). */
export function expectsContinue(req: IncomingMessage, res: ServerResponse): void {
  awaiting.set(req, res);
}

/** True while the client waits for `100 Continue`: its body has not been asked for. */
export function awaitingContinue(req: IncomingMessage): boolean {
  return awaiting.has(req);
}

/** Sends `100 Continue` when the client asked for it and nothing was answered yet; else nothing. */
export function sendContinue(req: IncomingMessage): void {
  const res = awaiting.get(req);
  if (res === undefined) return;
  awaiting.delete(req);
  if (!res.headersSent && !res.writableEnded) res.writeContinue();
}
