import { GatewayError } from '../errors.js';
import { NO_STORE, sendData } from '../http/reply.js';
import type { TenantScope } from '../auth/tenant-scope.js';
import { bearerToken, requireUser, toUserIdentity, type UserAuthenticator } from '../auth/user-auth.js';
import type { WsTickets } from '../auth/ws-tickets.js';
import type { HandlerMap } from './table.js';

export interface WsTicketRouteDeps {
  readonly userAuth: UserAuthenticator;
  readonly tickets: WsTickets;
  readonly tenantScope: TenantScope;
}

/**
 * `POST /api/v1/auth/ws-ticket` (docs/api.md, "WebSocket tickets"): trades the caller's access
 * token (Authorization header only) for a single-use ticket to open one WebSocket with
 * `/ws/*?ticket=`, so the token itself never travels in a URL. A platform admin may add
 * `?tenant_id=` exactly as on proxied routes; the ticket is bound to the tenant decided here.
 * No body is defined; one that is sent is discarded.
 */
export function createWsTicketRoute(deps: WsTicketRouteDeps): HandlerMap {
  return {
    'POST /api/v1/auth/ws-ticket': async (ctx) => {
      ctx.req.resume();
      const auth = await requireUser(deps.userAuth, bearerToken(ctx.req));
      if (auth.mustChangePassword) throw new GatewayError('PASSWORD_CHANGE_REQUIRED');
      if (auth.mfaEnrollmentRequired) throw new GatewayError('MFA_ENROLLMENT_REQUIRED');
      const home = toUserIdentity(auth.claims);
      const identity = ctx.rawQuery === '' ? home : await deps.tenantScope(ctx, home);
      ctx.identity = identity;
      const issued = await deps.tickets.issue(identity);
      sendData(ctx.res, { ticket: issued.ticket, expires_at: issued.expiresAt }, 200, NO_STORE);
    },
  };
}
