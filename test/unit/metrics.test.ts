/** Metrics (docs/operations.md): fixed names, bounded label values, an own registry per instance. */
import { describe, expect, it } from 'vitest';
import { createMetrics, methodLabel } from '../../gateway/ops/metrics.js';

const NAMES = [
  'g2d_gateway_http_requests_total',
  'g2d_gateway_http_request_duration_seconds',
  'g2d_gateway_upstream_duration_seconds',
  'g2d_gateway_login_total',
  'g2d_gateway_lockouts_total',
  'g2d_gateway_node_auth_failures_total',
  'g2d_gateway_token_rejections_total',
  'g2d_gateway_fail_open_total',
  'g2d_gateway_websockets_open',
  'g2d_gateway_websocket_limited_total',
  'g2d_gateway_dependency_up',
  'g2d_gateway_draining',
  'g2d_gateway_password_hash_queue',
  'g2d_gateway_password_hash_active',
  'g2d_gateway_http_requests_in_flight',
];

describe('createMetrics', () => {
  it('exposes every documented metric, with zeroed series for the fixed label sets', async () => {
    const m = createMetrics({ processMetrics: false });
    const { body, contentType } = await m.render();
    expect(contentType).toMatch(/^text\/plain/);
    for (const name of NAMES) expect(body).toContain(`# TYPE ${name} `);
    expect(body).toContain('g2d_gateway_login_total{outcome="throttled"} 0');
    expect(body).toContain('g2d_gateway_token_rejections_total{reason="revoked"} 0');
    expect(body).toContain('g2d_gateway_dependency_up{dependency="redis"} 0');
  });

  it('normalizes methods and statuses to a fixed set', async () => {
    const m = createMetrics({ processMetrics: false });
    expect(['GET', 'POST', 'DELETE', 'OPTIONS'].map(methodLabel)).toEqual(['GET', 'POST', 'DELETE', 'OPTIONS']);
    expect(methodLabel('PROPFIND')).toBe('OTHER');
    expect(methodLabel('get')).toBe('OTHER');
    expect(methodLabel(undefined)).toBe('OTHER');
    m.requestFinished('/api/v1', 'BREW', 200, 0.01);
    m.requestFinished('/api/v1', 'GET', 200, 0.01);
    m.requestFinished('/api/v1', 'GET', 200, 0.02);
    m.requestFinished('unmatched', 'GET', 1234, 0.001);
    const { body } = await m.render();
    expect(body).toContain('g2d_gateway_http_requests_total{route="/api/v1",method="OTHER",status="200"} 1');
    expect(body).toContain('g2d_gateway_http_requests_total{route="/api/v1",method="GET",status="200"} 2');
    expect(body).toContain('g2d_gateway_http_requests_total{route="unmatched",method="GET",status="other"} 1');
    expect(body).toContain('g2d_gateway_http_request_duration_seconds_count{route="/api/v1",method="GET"} 2');
  });

  it('maps unknown outcomes and reasons into the fixed sets instead of minting new series', async () => {
    const m = createMetrics({ processMetrics: false });
    m.login('success');
    m.login('something-new');
    m.tokenRejected('expired');
    m.tokenRejected('/some/raw/path');
    const { body } = await m.render();
    expect(body).toContain('g2d_gateway_login_total{outcome="success"} 1');
    expect(body).toContain('g2d_gateway_login_total{outcome="bad_request"} 1');
    expect(body).toContain('g2d_gateway_token_rejections_total{reason="expired"} 1');
    expect(body).not.toContain('/some/raw/path');
    expect(body).not.toContain('something-new');
  });

  it('counts events, tracks gauges and samples callbacks at scrape time', async () => {
    const m = createMetrics({ processMetrics: false });
    m.lockout();
    m.nodeAuthFailure('key');
    m.nodeAuthFailure('key');
    m.failOpen('redis');
    m.websocketOpened();
    m.websocketOpened();
    m.websocketClosed();
    m.dependencyUp('postgres', true);
    m.draining(true);
    m.upstreamObserved('/api/v1', 0.2);
    let queued = 3;
    m.samplePasswordHashing(() => ({ active: 2, queued }));
    m.sampleInFlight(() => 7);
    let { body } = await m.render();
    expect(body).toContain('g2d_gateway_lockouts_total 1');
    expect(body).toContain('g2d_gateway_node_auth_failures_total{reason="key"} 2');
    expect(body).toContain('g2d_gateway_node_auth_failures_total{reason="malformed"} 0');
    expect(body).toContain('g2d_gateway_fail_open_total{dependency="redis"} 1');
    expect(body).toContain('g2d_gateway_websockets_open 1');
    expect(body).toContain('g2d_gateway_dependency_up{dependency="postgres"} 1');
    expect(body).toContain('g2d_gateway_draining 1');
    expect(body).toContain('g2d_gateway_upstream_duration_seconds_count{route="/api/v1"} 1');
    expect(body).toContain('g2d_gateway_password_hash_queue 3');
    expect(body).toContain('g2d_gateway_password_hash_active 2');
    expect(body).toContain('g2d_gateway_http_requests_in_flight 7');
    queued = 0;
    ({ body } = await m.render());
    expect(body).toContain('g2d_gateway_password_hash_queue 0');
  });

  it('keeps instances apart (own registry) and adds process metrics by default', async () => {
    const a = createMetrics();
    const b = createMetrics({ processMetrics: false });
    a.lockout();
    expect((await b.render()).body).toContain('g2d_gateway_lockouts_total 0');
    const { body } = await a.render();
    expect(body).toContain('g2d_gateway_lockouts_total 1');
    expect(body).toContain('process_cpu_seconds_total');
    expect(body).toContain('nodejs_eventloop_lag_seconds');
  });
});
