/**
 * Configuration for `npm start`, the quickstart (README.md): the same loadConfig and validation as
 * `npm run serve`, with development defaults laid under the environment. Every variable a person
 * sets still wins; only unset ones get the quickstart's value.
 */
import { ConfigError, loadConfig, type Env } from './index.js';
import type { Config } from './types.js';

export const DEFAULT_STUB_PORT = 9090;

export interface QuickstartConfig {
  readonly config: Config;
  /** Where the in-process upstream stub listens (`STUB_PORT`, default 9090; 0 = any free port). */
  readonly stubPort: number;
  /**
   * True when `UPSTREAM_URL` was not set: proxied routes go to the quickstart's stub, and the
   * caller sets `upstreamUrl` once the stub listens (withOverrides).
   */
  readonly upstreamIsStub: boolean;
}

/**
 * Loads the quickstart's config: loopback only (`HOST` 127.0.0.1), port 8080, pretty logs. Refuses `NODE_ENV=production`: the quickstart seeds demo
 * users with published passwords, which must never happen against a production database.
 */
export function loadQuickstartConfig(env: Env = process.env): QuickstartConfig {
  const problems: string[] = [];
  if ((env.NODE_ENV ?? '').trim() === 'production') {
    problems.push(
      'NODE_ENV=production: `npm start` is the development quickstart (demo users, published passwords, embedded stores); run `npm run serve` in production',
    );
  }
  const rawStubPort = (env.STUB_PORT ?? '').trim();
  let stubPort = DEFAULT_STUB_PORT;
  if (rawStubPort !== '') {
    if (!/^\d+$/.test(rawStubPort) || Number(rawStubPort) > 65535)
      problems.push(`STUB_PORT: must be a whole number from 0 to 65535 (got "${rawStubPort}")`);
    else stubPort = Number(rawStubPort);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const unset = (name: string) => (env[name] ?? '').trim() === '';
  const upstreamIsStub = unset('UPSTREAM_URL');
  const defaults: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '8080',
    LOG_FORMAT: 'pretty',
  };
  const merged: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(defaults)) if (unset(name)) merged[name] = value;
  return { config: loadConfig(merged), stubPort, upstreamIsStub };
}

/** A copy of `config` with some top-level branches replaced, frozen like loadConfig's result. */
export function withOverrides(config: Config, overrides: Partial<Config>): Config {
  const next: Config = { ...config, ...overrides };
  for (const value of Object.values(overrides)) if (value && typeof value === 'object') Object.freeze(value);
  return Object.freeze(next);
}
