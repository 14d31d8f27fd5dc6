import type { TraceRule } from './model';

/**
 * Why a rule that did not match came close: every top-level condition held
 * but one. Returns a sentence naming that condition, or null when the rule
 * matched, was skipped, or missed on more than one count.
 */
export function nearMissReason(t: TraceRule): string | null {
  if (t.matched || t.skipped) return null;
  const top = (t.conditions ?? []).filter((c) => (c.depth ?? 0) === 0);
  const failed = top.filter((c) => !c.result);
  if (top.length < 2 || failed.length !== 1) return null;
  const f = failed[0];
  return `Near miss: everything else held, but ${t.firstFailing ?? f.expr} was false${f.error ? ` (${f.error})` : ''}.`;
}
