// Small facts about routes that lists and filters need.

import { formatCondition } from './conditionText';
import type { Condition, Route } from './model';

/** The route's condition as text: the server's whenText, else printed here. */
export function whenText(r: Route): string {
  if (r.whenText !== undefined) return r.whenText;
  if (typeof r.when === 'string') return r.when;
  return formatCondition(r.when);
}

/** Every host a route's condition mentions (for the host filter). */
export function routeHosts(r: Route): string[] {
  const out: string[] = [];
  const walk = (c: Condition | undefined) => {
    if (!c) return;
    c.all?.forEach(walk);
    c.any?.forEach(walk);
    walk(c.not);
    if (c.field === 'host') {
      if (c.value) out.push(c.value);
      c.values?.forEach((v) => out.push(v));
    }
  };
  if (typeof r.when === 'object') walk(r.when);
  return out;
}

/** Upstreams a route sends traffic to (forward and mirror). */
export function routeUpstreams(r: Route): string[] {
  const ups = (r.then?.forward ?? []).map((b) => b.upstream);
  if (r.then?.mirror?.upstream) ups.push(r.then.mirror.upstream);
  return ups;
}

/** One line saying what a route does. */
export function actionSummary(r: Route): string {
  const t = r.then ?? {};
  if (t.redirect) return `redirect ${t.redirect.status ?? 301} → ${[t.redirect.scheme && t.redirect.scheme + '://', t.redirect.host, t.redirect.path ?? t.redirect.pathPrefix].filter(Boolean).join('') || '(same URL)'}`;
  if (t.respond) return `respond ${t.respond.status}`;
  const fw = t.forward ?? [];
  if (fw.length === 1) return `→ ${fw[0].upstream}`;
  return '→ ' + fw.map((b) => `${b.upstream} ${b.weight ?? 1}`).join(' / ');
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Rules in the order their gateway tries them: by gateway, then priority
 * (higher first), then name. The server lists routes in this order too, so
 * pages that arrive later extend the list at its end.
 */
export function byPriority(a: Route, b: Route): number {
  return cmp(a.gateway, b.gateway) || (b.priority ?? 0) - (a.priority ?? 0) || cmp(a.name, b.name);
}
