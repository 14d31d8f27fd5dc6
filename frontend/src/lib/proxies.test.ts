import { describe, expect, it } from 'vitest';
import { summarizeProxies } from './proxies';

describe('summarizeProxies', () => {
  it('counts each proxy once, by its most pressing state', () => {
    const nack = { typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', error: 'bad regex' };
    expect(
      summarizeProxies([
        { node: 'a', connected: true, inSync: true },
        { node: 'b', connected: true, inSync: false },
        { node: 'c', connected: true, inSync: true, nack },
        { node: 'd', connected: false, inSync: true },
        { node: 'e', connected: true },
      ]),
    ).toEqual({ inSync: 1, pending: 2, nack: 1, gone: 1 });
    expect(summarizeProxies([])).toEqual({ inSync: 0, pending: 0, nack: 0, gone: 0 });
  });
});
