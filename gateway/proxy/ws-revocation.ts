import type { RevocationTarget } from '../auth/revocation-push.js';
import type { WsProxy } from './ws.js';

/**
 * Open WebSockets as a target of the revocation push: a revocation made here or pushed from
 * another instance closes the sockets it concerns at once (1008, docs/security-model.md). The
 * sockets cache nothing, so a reconnected channel has nothing to forget.
 */
export function socketsRevocationTarget(ws: Pick<WsProxy, 'closeRevoked'>): RevocationTarget {
  return {
    apply(event) {
      if (event.kind === 'jti') ws.closeRevoked({ jti: event.jti });
      else if (event.kind === 'session') ws.closeRevoked({ sid: event.sid });
      else if (event.kind === 'user') ws.closeRevoked({ userId: event.userId });
      else ws.closeRevoked({ nodeId: event.nodeId });
    },
    forgetAll: () => {},
  };
}
