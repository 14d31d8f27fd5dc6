import { describe, expect, it } from 'vitest';
import { endpointHealth, hostState, overflowSummary, upstreamBehaviours } from './health';

describe('hostState', () => {
  it('names the most pressing state', () => {
    expect(hostState({ address: 'a', healthy: false, ejected: true, failedHealthCheck: true, ejections: 2 }).label).toBe('ejected (2×)');
    expect(hostState({ address: 'a', healthy: false, ejected: true, ejections: 1 }).label).toBe('ejected');
    expect(hostState({ address: 'a', healthy: false, failedHealthCheck: true, pendingHealthCheck: true }).label).toBe('not checked yet');
    expect(hostState({ address: 'a', healthy: false, failedHealthCheck: true }).label).toBe('failing health check');
    expect(hostState({ address: 'a', healthy: true }).label).toBe('healthy');
  });
});

describe('upstreamBehaviours', () => {
  it('puts endpoint rows under their upstream and skips rows without one', () => {
    expect(
      upstreamBehaviours([
        { upstream: 'cart', endpoint: '', latencyMs: 20, errorRate: 0 },
        { upstream: 'cart', endpoint: 1, latencyMs: 0, errorRate: 100 },
        { upstream: 'web', endpoint: 0, latencyMs: 5, errorRate: 50 },
        { upstream: '', endpoint: '', latencyMs: 1, errorRate: 1 },
      ]),
    ).toEqual({
      cart: { latencyMs: 20, errorRate: 0, endpoints: { '1': { latencyMs: 0, errorRate: 1 } } },
      web: { endpoints: { '0': { latencyMs: 5, errorRate: 0.5 } } },
    });
  });
});

describe('overflowSummary', () => {
  const base = { perUpstream: {}, statuses: {}, retries: 0, rateLimited: 0, latencyMs: { p50: 0, p90: 0, p99: 0 } };
  it('lists the clusters whose overflow counters moved, busiest first, and the flags by count', () => {
    const s = overflowSummary({
      ...base,
      overflowed: 15,
      responseFlags: { UO: 14, URX: 1, UF: 0 },
      clusters: {
        web: { upstream_rq_total: 40 },
        cart: { upstream_rq_total: 2, upstream_rq_retry_overflow: 1 },
        slow: { upstream_rq_total: 2, upstream_rq_pending_overflow: 14, upstream_cx_overflow: 3 },
      },
    });
    expect(s.clusters).toEqual([
      { cluster: 'slow', counters: [{ name: 'upstream_rq_pending_overflow', value: 14 }, { name: 'upstream_cx_overflow', value: 3 }] },
      { cluster: 'cart', counters: [{ name: 'upstream_rq_retry_overflow', value: 1 }] },
    ]);
    expect(s.flags).toEqual([{ flag: 'UO', count: 14 }, { flag: 'URX', count: 1 }]);
  });
  it('is empty for a run without counters or flags, as older servers answer', () => {
    expect(overflowSummary(base)).toEqual({ clusters: [], flags: [] });
  });
});

describe('endpointHealth', () => {
  it('says unknown unless a check ran', () => {
    expect(endpointHealth({ healthy: true, health: 'unknown', source: 'static' }).label).toBe('unknown');
    expect(endpointHealth({ healthy: true, health: 'unknown', source: 'dns' }, true).title).toMatch(/each proxy runs/);
    expect(endpointHealth({ healthy: true, source: 'static' }).label).toBe('unknown');
    expect(endpointHealth({ healthy: true, health: 'healthy', source: 'kubernetes' }).label).toBe('healthy');
    expect(endpointHealth({ healthy: false, health: 'unhealthy', source: 'consul' }).label).toBe('unhealthy');
    expect(endpointHealth({ healthy: true, health: 'unhealthy', source: 'consul' }).title).toMatch(/still takes a share/);
    expect(endpointHealth({ healthy: false, source: 'consul' }).label).toBe('unhealthy');
  });
});
