import { describe, expect, it } from 'vitest';
import { weightShares } from './weights';

describe('weightShares', () => {
  it('divides by the sum, not by 100', () => {
    expect(weightShares([90, 20])).toEqual([82, 18]);
    expect(weightShares([90, 10])).toEqual([90, 10]);
  });
  it('always adds up to 100', () => {
    expect(weightShares([1, 1, 1])).toEqual([34, 33, 33]);
    expect(weightShares([1, 2, 3, 4, 5, 6, 7]).reduce((a, b) => a + b)).toBe(100);
  });
  it('counts empty and negative weights as nothing', () => {
    expect(weightShares([5, '', undefined, -3])).toEqual([100, 0, 0, 0]);
    expect(weightShares([0, 0])).toEqual([0, 0]);
  });
});
