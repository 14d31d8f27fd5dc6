import { describe, expect, it } from 'vitest';
import { hostState, upstreamBehaviours } from './health';

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
