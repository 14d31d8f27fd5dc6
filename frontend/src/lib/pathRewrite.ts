// A prefix rewrite (or redirect) replaces the part of the path that a path
// condition matched, and a template rewrite takes its variables from a
// path template: Envoy rewrites relative to the route's one path matcher.
// This says, before the server does, when `when` lacks that condition, in
// words about `when` rather than about the rewrite, with the fix.

import type { Action, Condition } from './model';

export interface PathConditionProblem {
  /** What is wrong, in plain words. */
  message: string;
  /** The condition with the missing path condition added, when one can be added. */
  fix?: { label: string; tree: Condition };
}

/** Predicates at the top level: the root itself, or the direct children of a root "all". */
function topLevel(c: Condition): Condition[] {
  if (c.field) return [c];
  return (c.all ?? []).filter((x) => !!x.field);
}

const PREFIX_OPS = ['prefix', 'segment-prefix', 'exact', 'equals'];

function withTopLevel(c: Condition, add: Condition): Condition {
  if (!c.field && !c.any && !c.not && !c.all) return add;
  if (c.all) return { ...c, all: [...c.all, add] };
  return { all: [c, add] };
}

/** The problem of `when` for what `then` does to the path, or null when there is none. */
export function pathConditionProblem(when: Condition, then: Action): PathConditionProblem | null {
  const paths = topLevel(when).filter((p) => p.field === 'path');
  const prefixUser = then.rewrite?.pathPrefix ? 'rewrite' : then.redirect?.pathPrefix ? 'redirect' : null;
  if (prefixUser) {
    const n = paths.filter((p) => PREFIX_OPS.includes(p.op ?? '')).length;
    const what = prefixUser === 'rewrite' ? 'The path prefix rewrite' : 'The redirect\'s path prefix';
    if (n === 0) {
      return {
        message: `${what} replaces the start of the path that a path condition matched, and this condition has none. Add a path condition such as path.prefix("/")${prefixUser === 'rewrite' ? ', or rewrite with a regex, which needs none' : ''}.`,
        fix: { label: 'Add path.prefix("/")', tree: withTopLevel(when, { field: 'path', op: 'prefix', value: '/' }) },
      };
    }
    if (n > 1) {
      return { message: `${what} replaces the start of the path that a path condition matched, and this condition has ${n} of them: keep exactly one path prefix (or exact path) outside any OR, so it is clear which part is replaced.` };
    }
  }
  if (then.rewrite?.pathTemplate) {
    const n = paths.filter((p) => p.op === 'template').length;
    if (n === 0) {
      return {
        message: 'The path template rewrite takes its variables from a path.template(...) condition, and this condition has none. Add one, such as path.template("/users/{id}").',
        fix: { label: 'Add path.template("/{path=**}")', tree: withTopLevel(when, { field: 'path', op: 'template', value: '/{path=**}' }) },
      };
    }
    if (n > 1) return { message: `The path template rewrite takes its variables from one path.template(...) condition, and this condition has ${n}: keep exactly one.` };
  }
  return null;
}

/** The server's way of saying the same (on `when`), which the editor shows with its fix instead. */
export function isPathConditionProblem(field: string, message: string): boolean {
  return field === 'when' && /^has (no|\d+) path(\.template\(\.\.\.\))? conditions?\b.*then\.(rewrite|redirect)\.(pathPrefix|pathTemplate)/.test(message);
}
