import type { IncomingMessage } from 'node:http';

/** The client's `User-Agent` for the audit trail, or null when absent or repeated. */
export function userAgent(ctx: { readonly req: IncomingMessage }): string | null {
  const v = ctx.req.headers['user-agent'];
  return typeof v === 'string' ? v : null;
}
