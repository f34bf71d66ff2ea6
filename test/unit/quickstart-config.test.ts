import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../gateway/config/index.js';
import { loadQuickstartConfig, withOverrides } from '../../gateway/config/quickstart.js';

describe('loadQuickstartConfig (README.md quickstart defaults)', () => {
  it('binds to loopback on 8080 with the stub on 9090 and no services configured', () => {
    const { config, stubPort, upstreamIsStub } = loadQuickstartConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
    expect(stubPort).toBe(9090);
    expect(upstreamIsStub).toBe(true);
    expect(config.database.url).toBeNull();
    expect(config.redis.url).toBeNull();
    expect(config.production).toBe(false);
  });

  it('lets every variable a person sets win', () => {
    const { config, stubPort, upstreamIsStub } = loadQuickstartConfig({
      HOST: '0.0.0.0',
      PORT: '9000',
      STUB_PORT: '0',
      UPSTREAM_URL: 'http://10.0.0.5:7000',
      LOG_FORMAT: 'json',
      DATABASE_URL: 'postgres://db/x',
    });
    expect([config.host, config.port, stubPort, upstreamIsStub, config.log.format]).toEqual([
      '0.0.0.0',
      9000,
      0,
      false,
      'json',
    ]);
    expect(config.upstreamUrl).toBe('http://10.0.0.5:7000');
    expect(config.database.url).toBe('postgres://db/x');
  });

  it('refuses NODE_ENV=production (demo users with published passwords), listing every problem at once', () => {
    let caught: unknown;
    try {
      loadQuickstartConfig({ NODE_ENV: 'production', STUB_PORT: 'nine' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems.some((p) => /npm run serve/.test(p))).toBe(true);
    expect(problems.some((p) => /STUB_PORT/.test(p))).toBe(true);
  });

  it('withOverrides returns a frozen copy and leaves the original alone', () => {
    const { config } = loadQuickstartConfig({});
    const next = withOverrides(config, {
      upstreamUrl: 'http://127.0.0.1:1234',
      database: { ...config.database, url: 'postgres://x/y', poolSize: 2 },
    });
    expect(next.upstreamUrl).toBe('http://127.0.0.1:1234');
    expect(next.database.poolSize).toBe(2);
    expect(Object.isFrozen(next) && Object.isFrozen(next.database)).toBe(true);
    expect(config.upstreamUrl).toBe('http://127.0.0.1:9090');
    expect(config.database.url).toBeNull();
  });
});
