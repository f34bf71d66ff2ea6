/** Typed, frozen configuration (docs/configuration.md). Built once by loadConfig and passed down. */

export type AuthKind = 'user' | 'node' | 'public' | 'gateway';
export type Role = 'agent' | 'supervisor' | 'admin' | 'platform_admin';
export const ROLES: readonly Role[] = ['agent', 'supervisor', 'admin', 'platform_admin'];

/** One row of the route table (docs/configuration.md). `gateway` rows are served by the gateway itself. */
export interface RouteDef {
  readonly prefix: string;
  readonly upstream?: string;
  readonly auth: AuthKind;
  readonly roles?: readonly Role[];
  readonly websocket?: boolean;
}

export interface DatabaseConfig {
  /** A postgres:// URL; null means the embedded PGlite database (never in production). */
  readonly url: string | null;
  readonly poolSize: number;
  readonly ssl: boolean | { rejectUnauthorized: boolean };
}

export interface RedisConfig {
  /** null means the in-process store (never in production). */
  readonly url: string | null;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  /** Sentinel: `REDIS_SENTINELS=host:port,host:port` plus `REDIS_SENTINEL_NAME`. */
  readonly sentinels?: readonly { host: string; port: number }[];
  readonly sentinelName?: string;
  /** REDIS_SENTINEL_PASSWORD: the sentinels' own `requirepass`, when they have one. */
  readonly sentinelPassword?: string;
  /** Cluster: `REDIS_CLUSTER_NODES=host:port,host:port`. */
  readonly clusterNodes?: readonly { host: string; port: number }[];
  readonly keyPrefix: string;
}

export interface JwtConfig {
  /** null means "generate a dev secret" (never in production). */
  readonly secret: string | null;
  readonly previousSecrets: readonly string[];
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly clockToleranceSeconds: number;
}

export interface PasswordConfig {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
  /** Argon2 jobs in flight at once (the rest queue) so the libuv pool stays free for jose. */
  readonly maxConcurrent: number;
  /**
   * Login/password-change requests allowed to wait beyond `maxConcurrent`. Past it they answer
   * 503 with Retry-After before counting the attempt: a storm is shed, not queued for minutes.
   */
  readonly maxQueued: number;
  readonly minLength: number;
  readonly maxLength: number;
}

export interface IdentityConfig {
  /** Ed25519 private key, PKCS#8 PEM or JWK JSON; null means "generate in dev". */
  readonly signingKey: string | null;
  readonly previousPublicKeys: readonly string[];
  readonly audience: string;
  readonly ttlSeconds: number;
}

export interface Config {
  readonly nodeEnv: string;
  readonly production: boolean;
  /** Valid but unwise settings (e.g. AUTH_JWT_SECRET under 32 bytes), logged once at start. */
  readonly warnings: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  readonly redis: RedisConfig;
  readonly jwt: JwtConfig;
  readonly passwords: PasswordConfig;
  readonly lockout: { readonly maxAttempts: number; readonly seconds: number };
  readonly loginIpLimit: { readonly limit: number; readonly windowSeconds: number };
  readonly defaultTenantDomain: string;
  readonly bootstrapToken: string | null;
  readonly upstreamUrl: string;
  readonly routes: readonly RouteDef[];
  readonly routesFile: string | null;
  readonly identity: IdentityConfig;
  readonly upstreamTimeoutMs: number;
  readonly shutdownGraceSeconds: number;
  /** Open client connections beyond this are dropped at accept (GATEWAY_MAX_CONNECTIONS). */
  readonly maxConnections: number;
  /**
   * WebSockets one identity (a user id, a node id) may hold open at once on this instance
   * (WS_MAX_PER_IDENTITY, default 50); past it an upgrade answers 429 before anything goes upstream.
   */
  readonly wsMaxPerIdentity: number;
  /** A client must send its whole header block within this (slowloris bound, GATEWAY_HEADERS_TIMEOUT_MS). */
  readonly headersTimeoutMs: number;
  /**
   * …and its whole request, body included, within this (GATEWAY_REQUEST_TIMEOUT_MS, default 300 s
   * like Node's own): it also bounds how long one proxied upload may take.
   */
  readonly requestTimeoutMs: number;
  readonly allowedOrigins: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly log: { readonly level: string; readonly format: 'json' | 'pretty' };
  readonly workers: number;
  /** WebSocket upgrades: tickets and whether `?token=` is still accepted (docs/api.md, "WebSocket tickets"). */
  readonly websocket: WebSocketAuthConfig;
  /** NODE_KEY_ROTATION_GRACE_SECONDS: how long the previous node key keeps working after a rotation. */
  readonly nodeKeyRotationGraceSeconds: number;
  /** The second factor (docs/_incoming/mfa.md). */
  readonly mfa: MfaConfig;
}

export interface MfaConfig {
  /** AUTH_MFA_REQUIRED_ROLES (default `platform_admin`; empty: none). */
  readonly requiredRoles: readonly Role[];
  /** AUTH_MFA_ENCRYPTION_KEY(_FILE); null: generated in development, refused in production once a user has MFA. */
  readonly encryptionKey: string | null;
  /** AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS(_FILE): older keys, decrypt only. */
  readonly previousEncryptionKeys: readonly string[];
}

export interface WebSocketAuthConfig {
  /** WS_QUERY_TOKEN: `?token=<jwt>` accepted on upgrades (`on`) or refused with 400 (`off`). */
  readonly queryToken: boolean;
  /** WS_TICKET_TTL_SECONDS: lifetime of a WebSocket ticket, 1–30 s. */
  readonly ticketTtlSeconds: number;
}
