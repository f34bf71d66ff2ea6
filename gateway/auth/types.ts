import type { IncomingMessage } from 'node:http';
import type { Role, RouteDef } from '../config/types.js';

/** A user authenticated by a gateway-minted JWT (docs/api.md). */
export interface UserIdentity {
  readonly kind: 'user';
  /** The tenant the request acts in: `tid`, or the `?tenant_id=` of a platform admin. */
  readonly tenantId: string;
  /** The user's home tenant (`tid`); differs from tenantId only for a platform admin acting cross-tenant. */
  readonly homeTenantId: string;
  readonly userId: string;
  readonly email: string;
  readonly role: Role;
  readonly jti: string;
  /** The session the token belongs to (claim `sid`); absent on tokens minted before sessions existed. */
  readonly sid?: string | undefined;
  /** Token expiry, seconds since the epoch. */
  readonly exp: number;
  readonly iat: number;
  /** How the user authenticated (RFC 8176 `amr`): `["pwd"]` or `["pwd","otp"]`. */
  readonly amr?: readonly string[];
}

/** An edge node authenticated by its raw API key (docs/security-model.md). */
export interface NodeIdentity {
  readonly kind: 'node';
  readonly tenantId: string;
  readonly nodeId: string;
  readonly nodeName: string;
}

export interface PublicIdentity {
  readonly kind: 'public';
}

export type Identity = UserIdentity | NodeIdentity | PublicIdentity;

/** Verified JWT claims (docs/api.md). */
export interface TokenClaims {
  readonly tid: string;
  readonly sub: string;
  readonly email: string;
  readonly role: Role;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  /** Session id (docs/api.md, sessions); tokens minted before sessions have none and live until `exp`. */
  readonly sid?: string | undefined;
  /** RFC 8176 authentication methods; absent on tokens minted before the second factor (read as `["pwd"]`). */
  readonly amr?: readonly string[];
}

/**
 * What authentication reads of a request: the http layer's request contexts (http/context.ts)
 * satisfy it, so auth/ judges requests without depending on the layer above it.
 */
export interface AuthRequest {
  /** `upgrade`: a WebSocket handshake (RFC 6455 §4.1), where `?token=` / `?ticket=` may carry the credential. */
  readonly kind: 'http' | 'upgrade';
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly ip: string;
  /** The decoded, normalized path. */
  readonly path: string;
  /** The raw query string without the leading `?` ('' when none). */
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  readonly route: RouteDef | null;
}
