// Small decisions of the policy forms, kept apart so they can be tested.

import type { Action, Rewrite } from './model';

export type AuthKind = 'none' | 'jwt' | 'apiKey' | 'basic';

/** Which authentication a route asks for (the server allows exactly one). */
export function authKind(auth: Action['auth']): AuthKind {
  if (!auth) return 'none';
  if (auth.jwt) return 'jwt';
  if (auth.apiKey) return 'apiKey';
  if (auth.basic) return 'basic';
  return 'none';
}

export type RewritePathKind = 'keep' | 'prefix' | 'regex' | 'template';

/** How a rewrite changes the path (the server allows at most one way). */
export function rewritePathKind(rw: Rewrite | undefined): RewritePathKind {
  if (!rw) return 'keep';
  if (rw.pathRegex) return 'regex';
  if (rw.pathTemplate !== undefined) return 'template';
  if (rw.pathPrefix !== undefined) return 'prefix';
  return 'keep';
}

/**
 * The form errors at or under `prefix` that no input shows (`bound` are the
 * paths that have their own input), in a stable order.
 */
export function sectionErrors(errors: Record<string, unknown>, prefix: string, bound: string[] = []): [string, string][] {
  return Object.entries(errors)
    .filter(([k, m]) => m && (k === prefix || k.startsWith(prefix + '.') || k.startsWith(prefix + '[')) && !bound.includes(k))
    .map(([k, m]) => [k, String(m)] as [string, string])
    .sort(([a], [b]) => a.localeCompare(b));
}
