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
  /** Per-route request limits replacing the RATE_LIMIT_* defaults on this route (docs/configuration.md). */
  readonly rateLimit?: RouteRateLimit;
}

/** The three request-limit kinds: per user id, per node id, per acting tenant. */
export type RateLimitKind = 'user' | 'node' | 'tenant';
export const RATE_LIMIT_KINDS: readonly RateLimitKind[] = ['user', 'node', 'tenant'];

/**
 * `<limit>/<seconds>[:<burst>]`: a token bucket holding `burst` requests (default `limit`),
 * refilled at `limit` per `windowSeconds`.
 */
export interface RateLimitPolicy {
  readonly limit: number;
  readonly windowSeconds: number;
  readonly burst: number;
}

/** A route's override per kind: a policy, or `off` (no limit of that kind on the route). */
export type RouteRateLimit = { readonly [K in RateLimitKind]?: RateLimitPolicy | 'off' };

export interface RateLimitConfig {
  /** RATE_LIMIT_USER / RATE_LIMIT_NODE / RATE_LIMIT_TENANT; null = off. */
  readonly user: RateLimitPolicy | null;
  readonly node: RateLimitPolicy | null;
  readonly tenant: RateLimitPolicy | null;
  /** RATE_LIMIT_SYNC_MS: how often each instance reconciles its local buckets with Redis. */
  readonly syncMs: number;
}

/**
 * Identity headers of other systems (oauth2-proxy, nginx auth_request, Apache, app frameworks) a
 * client could write to impersonate someone upstream: removed from every proxied request unless
 * STRIP_CLIENT_HEADERS says otherwise. A trailing `*` is a prefix.
 */
export const DEFAULT_STRIP_CLIENT_HEADERS: readonly string[] = [
  'x-tenant-id',
  'x-user-id',
  'x-user-role',
  'x-node-id',
  'remote-user',
  'x-forwarded-user',
  'x-auth-request-*',
];

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

export interface SessionConfig {
  /** AUTH_REFRESH_TTL_SECONDS: a refresh token's idle lifetime, from the last refresh. */
  readonly refreshTtlSeconds: number;
  /** AUTH_SESSION_MAX_SECONDS: a session's absolute lifetime, from login. */
  readonly maxSeconds: number;
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
  /** Sessions and refresh tokens (docs/api.md). */
  readonly sessions: SessionConfig;
  readonly defaultTenantDomain: string;
  readonly bootstrapToken: string | null;
  readonly upstreamUrl: string;
  readonly routes: readonly RouteDef[];
  readonly routesFile: string | null;
  /** Request limits per user, node and tenant (docs/configuration.md); all off by default. */
  readonly rateLimits: RateLimitConfig;
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
  /**
   * Client request headers never forwarded (STRIP_CLIENT_HEADERS): lower-case names, `_` read as
   * `-`, a trailing `*` for a prefix. Optional so hand-built configs get the defaults.
   */
  readonly stripClientHeaders?: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly log: { readonly level: string; readonly format: 'json' | 'pretty' };
  readonly workers: number;
  /** WebSocket upgrades: tickets and whether `?token=` is still accepted (docs/api.md, "WebSocket tickets"). */
  readonly websocket: WebSocketAuthConfig;
  /** NODE_KEY_ROTATION_GRACE_SECONDS: how long the previous node key keeps working after a rotation. */
  readonly nodeKeyRotationGraceSeconds: number;
  /** AUDIT_RETENTION_DAYS: audit events older than this are pruned daily; 0 keeps them forever. */
  readonly auditRetentionDays: number;
  /** What this build is, for g2d_gateway_build_info: package.json version, GATEWAY_BUILD_COMMIT. */
  readonly build: { readonly version: string; readonly commit: string | null };
  /** OpenTelemetry tracing from the standard `OTEL_*` variables (config/tracing.ts, docs/operations.md). */
  readonly tracing: TracingConfig;
  /** The second factor (docs/api.md, second factor). */
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

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/** Span export over OTLP/HTTP; nothing of the SDK is loaded unless `enabled`. */
export interface TracingConfig {
  /** A traces endpoint is set, OTEL_SDK_DISABLED is not `true` and OTEL_TRACES_EXPORTER is not `none`. */
  readonly enabled: boolean;
  /** The full traces URL (…/v1/traces), or null when no endpoint is set. */
  readonly endpoint: string | null;
  readonly protocol: 'http/protobuf' | 'http/json';
  /** Sent with every export (lower-case names); may hold a collector API key: never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: 'gzip' | 'none';
  readonly timeoutMs: number;
  /** PEM contents of OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE / CLIENT_CERTIFICATE / CLIENT_KEY (an https collector). */
  readonly tls: { readonly ca: string | null; readonly cert: string | null; readonly key: string | null };
  readonly sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers, 0–1. */
  readonly samplerRatio: number;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly batch: {
    readonly scheduledDelayMs: number;
    readonly exportTimeoutMs: number;
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
  };
}
