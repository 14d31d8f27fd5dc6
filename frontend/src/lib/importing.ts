// Imports of other tools' configuration through POST /import.

import type { Route, Upstream } from './model';
import type { FieldProblem } from './problems';

export type ImportFormat = 'gateway-api' | 'ingress' | 'kong' | 'openapi';

/** The file as the server's input limit allows (backend/input.MaxBytes). */
export const MAX_IMPORT_BYTES = 4 << 20;

export const IMPORT_FORMATS: { value: ImportFormat; label: string; help: string; placeholder: string }[] = [
  {
    value: 'gateway-api',
    label: 'Gateway API',
    help: 'gateway.networking.k8s.io/v1 HTTPRoutes: hostnames, matches, weighted backends and the header, redirect, rewrite and mirror filters. Each Service port becomes a Kubernetes upstream.',
    placeholder: 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: shop}\nspec:\n  hostnames: [shop.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /}}]\n    backendRefs: [{name: web, port: 8080}]',
  },
  {
    value: 'ingress',
    label: 'Ingress',
    help: 'networking.k8s.io/v1 Ingresses: hosts and paths; annotations and TLS sections are reported, not imported.',
    placeholder: 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop}\nspec:\n  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}',
  },
  {
    value: 'kong',
    label: 'Kong',
    help: 'A Kong declarative configuration (decK or kong.yml, YAML or JSON): services become upstreams, routes and their plugins routes with policies.',
    placeholder: '_format_version: "3.0"\nservices:\n- name: web\n  url: http://web.internal:8080\n  routes:\n  - {name: web, hosts: [shop.example.com], paths: [/]}',
  },
  {
    value: 'openapi',
    label: 'OpenAPI',
    help: 'An OpenAPI 3.x document: one route per path with its methods, forwarding to the upstream you pick.',
    placeholder: 'openapi: 3.0.3\ninfo: {title: pets, version: "1"}\npaths:\n  /pets:\n    get: {responses: {"200": {description: ok}}}',
  },
];

export interface ImportRequest {
  format: ImportFormat;
  content: string;
  gateway: string;
  apply?: boolean;
  openapi?: { upstream: string; host?: string; prefix?: string };
}

/** One thing of the file that did not translate, or translated with other semantics. */
export interface ImportIssue {
  object: string;
  field?: string;
  message: string;
}

export interface ImportResult {
  report: ImportIssue[];
  workspace: { routes?: Route[]; upstreams?: Upstream[] };
  /** What applying to the current draft would refuse, with paths into workspace ("routes[1].then..."). */
  problems: FieldProblem[];
  applied?: { kind: string; name: string; action: string; version: number }[];
}

/** Which format a file is, from its first lines; null when it does not say. */
export function guessFormat(text: string): ImportFormat | null {
  const head = text.slice(0, 4096);
  // A top-level key: at the start of a line (YAML) or after { or , (JSON).
  if (/(^|[{,])\s*["']?openapi["']?\s*:/m.test(head)) return 'openapi';
  if (/(^|[{,])\s*["']?_format_version["']?\s*:/m.test(head)) return 'kong';
  if (/gateway\.networking\.k8s\.io\//.test(head) && /kind["']?\s*:\s*["']?HTTPRoute/.test(head)) return 'gateway-api';
  if (/networking\.k8s\.io\/v1/.test(head) && /kind["']?\s*:\s*["']?Ingress/.test(head)) return 'ingress';
  return null;
}

/** The converted objects in the order shown, each with its path in the workspace. */
export function importObjects(res: ImportResult): { key: string; kind: 'Route' | 'Upstream'; name: string; path: string; object: unknown }[] {
  return [
    ...(res.workspace.upstreams ?? []).map((o, i) => ({ key: `upstream/${o.name}`, kind: 'Upstream' as const, name: o.name, path: `upstreams[${i}]`, object: o })),
    ...(res.workspace.routes ?? []).map((o, i) => ({ key: `route/${o.name}`, kind: 'Route' as const, name: o.name, path: `routes[${i}]`, object: o })),
  ];
}

/** Problems keyed by the object they are about ("routes[1]"), each with the rest of its path. */
export function problemsByObject(problems: FieldProblem[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of problems) {
    const m = /^((?:routes|upstreams)\[\d+\])\.?(.*)$/.exec(p.field);
    if (!m) continue;
    const list = out.get(m[1]) ?? [];
    list.push(m[2] ? `${m[2]}: ${p.message}` : p.message);
    out.set(m[1], list);
  }
  return out;
}
