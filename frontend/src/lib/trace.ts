import type { TraceRule } from './model';

/**
 * Why a rule that did not match came close: it missed on exactly one
 * condition (or the evaluator marked it a near miss). Returns a sentence, or
 * null when the rule was not close.
 */
export function nearMissReason(t: TraceRule): string | null {
  if (t.matched) return null;
  const conds = t.conditions ?? [];
  const failed = conds.filter((c) => !c.result);
  if (typeof t.nearMiss === 'string' && t.nearMiss) return t.nearMiss;
  if (failed.length === 1 && conds.length > 1) {
    const f = failed[0];
    return `Near miss: everything else held, but ${f.expr} was false${f.reason ? ` (${f.reason})` : ''}.`;
  }
  if (t.nearMiss === true) return t.reason ?? 'Near miss.';
  return null;
}
