import { describe, expect, it } from 'vitest';
import type { TraceRule } from './model';
import { nearMissReason } from './trace';

describe('nearMissReason', () => {
  const cond = (expr: string, result: boolean, depth = 0) => ({ expr, result, depth });
  const tests: Record<string, { t: TraceRule; want: string | null }> = {
    'one top-level condition failed': {
      t: { rule: 'canary', matched: false, conditions: [cond('host == "a"', true), cond('header["x"] == "1"', false)], firstFailing: 'header["x"] == "1"' },
      want: 'Near miss: everything else held, but header["x"] == "1" was false.',
    },
    'failed parts of one group count once': {
      t: { rule: 'r', matched: false, conditions: [cond('host == "a"', true), cond('(p1 || p2)', false), cond('p1', false, 1), cond('p2', false, 1)] },
      want: 'Near miss: everything else held, but (p1 || p2) was false.',
    },
    'two failures are no near miss': { t: { rule: 'r', matched: false, conditions: [cond('a', false), cond('b', false)] }, want: null },
    'a single condition is no near miss': { t: { rule: 'r', matched: false, conditions: [cond('a', false)] }, want: null },
    matched: { t: { rule: 'r', matched: true, conditions: [cond('a', true), cond('b', true)] }, want: null },
    skipped: { t: { rule: 'r', matched: false, skipped: 'disabled', conditions: [] }, want: null },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => expect(nearMissReason(tc.t)).toBe(tc.want));
  }
});
