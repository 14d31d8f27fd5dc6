import { describe, expect, it } from 'vitest';
import { localRefetchInterval, statusColor, statusSummary, type LocalGateway } from './localGateway';

const st = (state: LocalGateway['state']): LocalGateway =>
  ({ gateway: 'public', state, listeners: [], version: null, acked: {}, inSync: false, nack: null, samples: [] }) as LocalGateway;

describe('local gateway', () => {
  it('asks again often only while it is on its way to serving', () => {
    expect(localRefetchInterval(st('starting'))).toBe(1_000);
    expect(localRefetchInterval(st('waiting'))).toBe(1_000);
    expect(localRefetchInterval(st('ready'))).toBe(10_000);
    expect(localRefetchInterval(st('stopped'))).toBe(10_000);
    expect(localRefetchInterval(undefined)).toBe(10_000);
  });
  it('summarises answers, most frequent first', () => {
    expect(statusSummary({ '503': 2, '200': 4, '301': 2 })).toBe('200 × 4, 301 × 2, 503 × 2');
    expect(statusSummary({}, 3)).toBe('no answer × 3');
  });
  it('colours status classes', () => {
    expect(['200', '301', '404', '503'].map(statusColor)).toEqual(['green', 'blue', 'yellow', 'red']);
  });
});
