import { describe, expect, it } from 'vitest';
import { expectRows, expectSummary, headerRows, otherExpectations, rowsToExpect, rowsToHeaders, upstreamExpectation } from './routeTests';

describe('route test expectations', () => {
  const e = { rule: 'web', upstreamIn: ['web-v1', 'web-v2'], status: 200, requestHeaders: { 'x-a': '1', 'x-gone': null }, mirrored: true };

  it('round-trips through rows, keeping what has no row', () => {
    const rows = expectRows(e);
    expect(rows).toEqual([
      { kind: 'rule', value: 'web' },
      { kind: 'upstreamIn', value: 'web-v1, web-v2' },
      { kind: 'status', value: '200' },
      { kind: 'requestHeader', header: 'x-a', value: '1', absent: false },
      { kind: 'requestHeader', header: 'x-gone', value: '', absent: true },
    ]);
    expect(rowsToExpect(rows, otherExpectations(e))).toEqual(e);
  });

  it('keeps an expected empty rule (no rule may match) and a bad status for the server to name', () => {
    expect(rowsToExpect([{ kind: 'rule', value: '' }, { kind: 'status', value: 'abc' }])).toEqual({ rule: '', status: 'abc' });
    expect(expectSummary({ rule: '' })).toBe('no rule');
  });

  it('summarises every expectation', () => {
    expect(expectSummary(e)).toBe('rule=web · upstream in [web-v1, web-v2] · status=200 · upstream gets x-a=1 · upstream gets x-gone absent · mirrored=true');
  });

  it('turns header rows into request headers and back', () => {
    const h = rowsToHeaders([{ name: 'cookie', value: 'a=1' }, { name: ' cookie ', value: 'b=2' }, { name: '', value: 'x' }, { name: 'x-c', value: '1' }]);
    expect(h).toEqual({ cookie: ['a=1', 'b=2'], 'x-c': '1' });
    expect(headerRows(h)).toEqual([{ name: 'cookie', value: 'a=1' }, { name: 'cookie', value: 'b=2' }, { name: 'x-c', value: '1' }]);
  });
});

describe('upstreamExpectation', () => {
  it('asks a weighted split for membership, not for the upstream that happened to answer', () => {
    const split = [{ upstream: 'web-v1', weight: 90 }, { upstream: 'web-v2', weight: 10 }, { upstream: 'old', weight: 0 }];
    expect(upstreamExpectation(split, 'web-v2')).toEqual({ upstreamIn: ['web-v1', 'web-v2'] });
  });
  it('asks for the one upstream of an unsplit rule', () => {
    expect(upstreamExpectation([{ upstream: 'api' }], 'api')).toEqual({ upstream: 'api' });
    expect(upstreamExpectation([{ upstream: 'a', weight: 1 }, { upstream: 'b', weight: 0 }], 'a')).toEqual({ upstream: 'a' });
    expect(upstreamExpectation(undefined, 'mirror')).toEqual({ upstream: 'mirror' });
  });
});
