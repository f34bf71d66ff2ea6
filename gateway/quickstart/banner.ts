/**
 * The quickstart's start banner (README.md): where the gateway is, the demo logins, and copy-paste
 * commands that reproduce the reference documentation's examples (reference `authentication`)
 * against it. Pure: it returns text, main.ts prints it. Every command here is run by
 * test/e2e/quickstart.test.ts, so what the banner promises is what the gateway does.
 */
import type { DemoUser } from './seed.js';

export interface BannerInput {
  /** http://host:port a client can reach (never 0.0.0.0). */
  readonly gatewayUrl: string;
  /** Where proxied routes go (the in-process stub, or the configured UPSTREAM_URL). */
  readonly upstreamUrl: string;
  readonly upstreamIsStub: boolean;
  readonly dataDir: string;
  /** Embedded PGlite (true) or the configured DATABASE_URL (false). */
  readonly embeddedDatabase: boolean;
  /** In-process lockout/throttle/revocation store (true) or Redis (false). */
  readonly memoryState: boolean;
  readonly users: readonly DemoUser[];
  readonly node: { readonly name: string; readonly apiKey: string };
  readonly startedInMs: number;
  /**
   * A ready-to-paste admin CLI line (the CLI finds the embedded database through the data
   * directory's `database-url` file), or null when the database is an external DATABASE_URL.
   */
  readonly cliCommand: string | null;
  /** AUTH_MFA_REQUIRED_ROLES: when a demo user's role is listed, the banner shows how to enrol (or turn it off). */
  readonly mfaRequiredRoles?: readonly string[];
}

/** A new password the policy accepts (docs/api.md: 12–256 chars, not common, not the current one). */
export const EXAMPLE_NEW_PASSWORD = 'my-new-demo-passphrase';

export interface BannerCommands {
  readonly login: string;
  readonly refresh: string;
  readonly me: string;
  readonly proxied: string;
  readonly node: string;
  readonly websocket: string;
  readonly changePassword: string;
}

/**
 * Every curl line uses `-fsS`: a 4xx/5xx makes curl say so on stderr and exit non-zero, instead of
 * handing an error envelope to jq (which would print `null`).
 */
const CURL = 'curl -fsS';

/** The copy-paste commands, by name (the e2e test runs each one). */
export function bannerCommands(input: Pick<BannerInput, 'gatewayUrl' | 'users' | 'node'>): BannerCommands {
  const url = input.gatewayUrl;
  const admin = input.users.find((u) => u.role === 'admin') ?? input.users[0];
  if (!admin) throw new Error('banner: no demo users');
  const wsUrl = url.replace(/^http/, 'ws');
  return {
    login: [
      `LOGIN=$(${CURL} ${url}/api/v1/auth/login \\`,
      `  -H 'Content-Type: application/json' \\`,
      `  -d '{"email":"${admin.email}","password":"${admin.password}"}')`,
      `TOKEN=$(echo "$LOGIN" | jq -r .data.token); REFRESH=$(echo "$LOGIN" | jq -r .data.refresh_token)`,
    ].join('\n'),
    refresh: [
      `LOGIN=$(${CURL} ${url}/api/v1/auth/refresh -H 'Content-Type: application/json' \\`,
      `  -d "{\\"refresh_token\\":\\"$REFRESH\\"}")`,
      `TOKEN=$(echo "$LOGIN" | jq -r .data.token); REFRESH=$(echo "$LOGIN" | jq -r .data.refresh_token)`,
    ].join('\n'),
    me: `${CURL} ${url}/api/v1/auth/me -H "Authorization: Bearer $TOKEN"`,
    proxied: `${CURL} ${url}/api/v1/whoami -H "Authorization: Bearer $TOKEN" | jq .data.identity`,
    node: `${CURL} -X POST ${url}/api/v1/nodes/heartbeat -H 'Authorization: Bearer ${input.node.apiKey}' | jq .data.identity`,
    websocket: `npm run -s ws -- ${wsUrl}/ws/agent "$TOKEN"`,
    changePassword: [
      `TOKEN=$(${CURL} -X POST ${url}/api/v1/auth/me/password \\`,
      `  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
      `  -d '{"current_password":"${admin.password}","new_password":"${EXAMPLE_NEW_PASSWORD}"}' \\`,
      `  | jq -r .data.token)`,
    ].join('\n'),
  };
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

/**
 * How a demo user whose role requires MFA gets a full token: enrol with TOTP (an authenticator app
 * reads `otpauth_uri`), or start without the requirement. Empty when no demo role requires it.
 */
export function mfaLines(input: Pick<BannerInput, 'gatewayUrl' | 'users' | 'mfaRequiredRoles'>): string[] {
  const roles = input.mfaRequiredRoles ?? [];
  const user = input.users.find((u) => roles.includes(u.role));
  if (!user) return [];
  const url = input.gatewayUrl;
  const login = `{"email":"${user.email}","password":"${user.password}","tenant_domain":"${user.tenantDomain}"}`;
  return [
    `  MFA: the ${user.label} login (${user.role}) must enrol a second factor (TOTP) before its token works`,
    `  beyond me, enrolment and logout (AUTH_MFA_REQUIRED_ROLES=${roles.join(',')}). Enrol:`,
    '',
    `    PTOKEN=$(${CURL} ${url}/api/v1/auth/login -H 'Content-Type: application/json' -d '${login}' | jq -r .data.token)`,
    `    ${CURL} -X POST ${url}/api/v1/auth/mfa/totp/setup -H "Authorization: Bearer $PTOKEN" | jq .data   # add otpauth_uri to an authenticator app`,
    `    ${CURL} -X POST ${url}/api/v1/auth/mfa/totp/confirm -H "Authorization: Bearer $PTOKEN" \\`,
    `      -H 'Content-Type: application/json' -d '{"code":"<6 digits from the app>"}' | jq .data.recovery_codes`,
    '',
    '  Later logins answer {mfa_required, mfa_token}: POST /api/v1/auth/mfa/verify {"mfa_token":…,"code":…} completes them.',
    '  Or turn the requirement off for local use: start with AUTH_MFA_REQUIRED_ROLES= (empty).',
    '',
  ];
}

/** Renders the banner printed once the gateway listens. */
export function renderBanner(input: BannerInput): string {
  const c = bannerCommands(input);
  const width = Math.max(...input.users.map((u) => u.email.length));
  const logins = input.users.map(
    (u) =>
      `    ${u.label.padEnd(10)} ${u.email.padEnd(width)}  ${u.password}${u.role === 'platform_admin' ? '   (platform_admin, Platform tenant)' : ''}`,
  );
  const where: string[] = [
    `  Gateway    ${input.gatewayUrl}`,
    `  Upstream   ${input.upstreamUrl}${input.upstreamIsStub ? '  (the upstream stub: it echoes the identity it verified)' : ''}`,
    `  Data       ${input.dataDir}${input.embeddedDatabase ? '  (embedded Postgres, dev secrets, demo node key; delete it to start over)' : '  (dev secrets, demo node key)'}`,
  ];
  if (input.cliCommand) where.push(`  Admin CLI  ${input.cliCommand}`);
  if (input.memoryState)
    where.push(
      '  Note       single instance only: lockout, throttles and revocations live in this process (set REDIS_URL to share them)',
    );
  return [
    '',
    `get2dial gateway quickstart is ready (${(input.startedInMs / 1000).toFixed(1)} s)`,
    '',
    ...where,
    '',
    '  Demo logins (passwords as seeded; a password you change stays changed):',
    ...logins,
    `  Demo edge node "${input.node.name}" API key:`,
    `    ${input.node.apiKey}`,
    '',
    '  Try it (curl and jq; README.md walks through more):',
    '',
    '    # Log in as the demo admin and keep the access token and the refresh token',
    indent(c.login),
    '',
    '    # Renew the access token (the refresh token rotates: the old one is spent, and presenting it',
    '    # again ends the session). Clients that refresh do well with AUTH_JWT_TTL_SECONDS=900.',
    indent(c.refresh),
    '',
    '    # Who am I (read fresh from Postgres)',
    indent(c.me),
    '',
    "    # A proxied call: the stub echoes the identity it verified from the gateway's signed X-G2D-Identity",
    '    # (drop "| jq .data.identity" to see every header that reached it)',
    indent(c.proxied),
    '',
    '    # An edge-node call with the demo node key',
    indent(c.node),
    '',
    '    # The agent WebSocket (browsers cannot set headers, so the token rides in ?token=);',
    '    # type a line: the stub echoes it, and answers "whoami" with the verified identity (Ctrl-D ends)',
    indent(c.websocket),
    '',
    '    # Change your password: the answer carries a new token; tokens issued before stop working',
    indent(c.changePassword),
    '',
    ...mfaLines(input),
    '  Ctrl-C stops it; data persists in the data directory.',
    '',
  ].join('\n');
}
