/** AUDIT_RETENTION_DAYS and the build facts behind g2d_gateway_build_info (docs/operations.md). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../gateway/config/index.js';
import { createMetrics } from '../../gateway/ops/metrics.js';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('AUDIT_RETENTION_DAYS', () => {
  it('defaults to 365, takes 0 (keep forever) and whole days', () => {
    expect(loadConfig({}).auditRetentionDays).toBe(365);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '0' }).auditRetentionDays).toBe(0);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '30' }).auditRetentionDays).toBe(30);
  });

  it.each(['-1', '1.5', '7d', '36501'])('refuses %s', (value) => {
    expect(problems({ AUDIT_RETENTION_DAYS: value })).toEqual([
      expect.stringMatching(/^AUDIT_RETENTION_DAYS: must be a whole number from 0 to 36500/),
    ]);
  });
});

describe('build info', () => {
  it('reads the version from package.json and the commit from GATEWAY_BUILD_COMMIT', () => {
    expect(loadConfig({}).build).toEqual({ version, commit: null });
    expect(loadConfig({ GATEWAY_BUILD_COMMIT: 'ABCDEF1' }).build.commit).toBe('abcdef1');
    expect(problems({ GATEWAY_BUILD_COMMIT: 'main; rm -rf' })).toEqual([
      expect.stringMatching(/^GATEWAY_BUILD_COMMIT: must be a git commit hash/),
    ]);
  });

  it('exposes g2d_gateway_build_info = 1 with version, node and commit labels, one series', async () => {
    const m = createMetrics({ processMetrics: false });
    m.buildInfo({ version: '1.2.3', commit: null });
    m.buildInfo({ version, commit: 'abcdef1' });
    const { body } = await m.render();
    expect(body).toContain('# TYPE g2d_gateway_build_info gauge');
    expect(body).toContain(`g2d_gateway_build_info{version="${version}",node="${process.version}",commit="abcdef1"} 1`);
    expect(body).not.toContain('version="1.2.3"');
  });

  it('counts audit retention runs by result and the rows pruned', async () => {
    const m = createMetrics({ processMetrics: false });
    expect((await m.render()).body).toContain('g2d_gateway_audit_prune_runs_total{result="skipped"} 0');
    m.auditPrune('pruned', 1200);
    m.auditPrune('skipped', 0);
    const { body } = await m.render();
    expect(body).toContain('g2d_gateway_audit_prune_runs_total{result="pruned"} 1');
    expect(body).toContain('g2d_gateway_audit_prune_runs_total{result="skipped"} 1');
    expect(body).toContain('g2d_gateway_audit_events_pruned_total 1200');
  });
});
