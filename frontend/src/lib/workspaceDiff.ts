// What publishing would change: the gateway's draft workspace (assembled the
// way the server assembles it when publishing) compared object by object
// with the workspace of the live version.

import type { Gateway, Route, Secret, Upstream } from './model';
import { objectText } from './objectText';

/** The objects one gateway publishes. */
export interface GatewayWorkspace {
  gateways?: Gateway[];
  upstreams?: Upstream[];
  routes?: Route[];
  secrets?: Secret[];
}

/** One object that differs between live and draft. */
export interface ObjectChange {
  kind: 'Gateway' | 'Route' | 'Upstream' | 'Secret';
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** The live object as diffs show it (objectText; '' when added). */
  before: string;
  /** The draft object as diffs show it (objectText; '' when removed). */
  after: string;
}

/** Upstreams a route sends traffic to (forward and mirror). */
function routeUpstreams(r: Route): string[] {
  const out = (r.then?.forward ?? []).map((b) => b.upstream);
  if (r.then?.mirror?.upstream) out.push(r.then.mirror.upstream);
  return out;
}

/**
 * The draft workspace of `gateway` out of the full draft lists: the gateway,
 * its routes, the upstreams those routes use and the secrets the gateway's
 * listeners and those upstreams name.
 */
export function draftWorkspace(
  gateway: string,
  all: { gateways: Gateway[]; routes: Route[]; upstreams: Upstream[]; secrets: Secret[] },
): GatewayWorkspace {
  const gw = all.gateways.find((g) => g.name === gateway);
  const routes = all.routes.filter((r) => r.gateway === gateway);
  const needUp = new Set(routes.flatMap(routeUpstreams));
  const upstreams = all.upstreams.filter((u) => needUp.has(u.name));
  const needSec = new Set<string>();
  for (const l of gw?.listeners ?? []) for (const c of l.tls?.certificates ?? []) needSec.add(c.secret);
  for (const u of upstreams) if (u.tls?.caSecret) needSec.add(u.tls.caSecret);
  const secrets = all.secrets.filter((s) => needSec.has(s.name));
  return { gateways: gw ? [gw] : [], routes, upstreams, secrets };
}

// Bookkeeping that changes on every save without changing behaviour, and
// the server's text rendering of a route's condition (the tree is compared).
const IGNORED = new Set(['version', 'updatedAt', 'updatedBy', 'kind', 'whenText']);

/** JSON with keys sorted and bookkeeping left out, so equal objects print equally. */
export function canonicalJSON(obj: unknown): string {
  const norm = (v: unknown, top: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => norm(x, false));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        if (top && IGNORED.has(k)) continue;
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined || x === null) continue;
        out[k] = norm(x, false);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(norm(obj, true), null, 2);
}

const KINDS = [
  ['Gateway', 'gateways'],
  ['Route', 'routes'],
  ['Upstream', 'upstreams'],
  ['Secret', 'secrets'],
] as const;

/** The objects that differ between live and draft, by kind then name. */
export function workspaceChanges(live: GatewayWorkspace, draft: GatewayWorkspace): ObjectChange[] {
  const out: ObjectChange[] = [];
  for (const [kind, key] of KINDS) {
    const before = new Map<string, object>(live[key]?.map((o) => [o.name, o]));
    const after = new Map<string, object>(draft[key]?.map((o) => [o.name, o]));
    const names = [...new Set([...before.keys(), ...after.keys()])].sort();
    for (const name of names) {
      const b = before.get(name);
      const a = after.get(name);
      if (b && a && canonicalJSON(a) === canonicalJSON(b)) continue;
      out.push({ kind, name, change: !b ? 'added' : !a ? 'removed' : 'changed', before: objectText(kind, b), after: objectText(kind, a) });
    }
  }
  return out;
}
