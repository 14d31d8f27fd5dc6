// Server state: one hook per resource, so screens share caches and a save
// in one place refreshes every list that shows the object.

import { experimental_streamedQuery as streamedQuery, useMutation, useQueries, useQuery, useQueryClient, type UseQueryResult } from '@tanstack/react-query';
import { get, post, put, del, seg } from './api';
import type {
  EndpointStatus,
  EvaluateResult,
  Gateway,
  ListResponse,
  ProxyStatus,
  Revision,
  Route,
  Secret,
  SandboxRequest,
  SandboxResult,
  SimulationResult,
  Upstream,
} from './model';

export interface Me {
  name: string;
  role: 'viewer' | 'editor' | 'admin' | string;
  csrfToken?: string;
}

export const keys = {
  me: ['me'] as const,
  gateways: ['gateways'] as const,
  upstreams: ['upstreams'] as const,
  secrets: ['secrets'] as const,
  routes: ['routes'] as const,
  route: (name: string) => ['routes', name] as const,
  endpoints: (name: string) => ['upstreams', name, 'endpoints'] as const,
  proxies: (gw: string) => ['gateways', gw, 'proxies'] as const,
  published: (gw: string) => ['gateways', gw, 'published'] as const,
  publishedVersion: (gw: string, v: number) => ['gateways', gw, 'published', v] as const,
  revisions: ['revisions'] as const,
  // Not under 'routes': a route may be named "lint". Every route write
  // invalidates the whole 'lint' prefix.
  lints: ['lint'] as const,
  lint: (gw: string) => ['lint', gw] as const,
};

/** The page size asked for; the server cuts it to its cap and says which applied. */
const PAGE = 1000;

/**
 * Yields every page of a list in order. When the first page says the total,
 * the other pages are fetched side by side (by offset, in the page size the
 * server applied) and handed on as soon as the ones before them are; without
 * a total, the cursor each page gives as next is followed.
 */
export async function* pages<T>(path: string, fetchPage: (p: string) => Promise<ListResponse<T>> = get): AsyncGenerator<ListResponse<T>> {
  const sep = path.includes('?') ? '&' : '?';
  const first = await fetchPage(`${path}${sep}limit=${PAGE}&offset=0`);
  if (first.total === undefined) {
    let page = first;
    let count = 0;
    for (;;) {
      count += page.items.length;
      // Until the last page, the total is "at least one more".
      yield { items: page.items, total: page.next && page.items.length > 0 ? count + 1 : count };
      if (!page.next || page.items.length === 0) return;
      page = await fetchPage(`${path}${sep}limit=${PAGE}&cursor=${encodeURIComponent(page.next)}`);
    }
  }
  const total = first.total;
  const size = first.limit || first.items.length;
  const rest: Promise<ListResponse<T>>[] = [];
  for (let off = first.items.length; off < total && size > 0; off += size) {
    rest.push(fetchPage(`${path}${sep}limit=${size}&offset=${off}`));
  }
  // Nothing is left unobserved if a page fails while an earlier one is awaited.
  for (const p of rest) p.catch(() => {});
  yield { items: first.items, total };
  for (const p of rest) yield { items: (await p).items, total };
}

/** Fetches every item of a list (see pages). */
export async function getAll<T>(path: string, fetchPage: (p: string) => Promise<ListResponse<T>> = get): Promise<ListResponse<T>> {
  const items: T[] = [];
  let total = 0;
  for await (const page of pages(path, fetchPage)) {
    items.push(...page.items);
    total = page.total ?? items.length;
  }
  return { items, total };
}

/** A list being fetched page by page; complete once the last page is in. */
export interface GrowingList<T> extends ListResponse<T> {
  complete: boolean;
}

/** Adds a page to a growing list. */
export function addPage<T>(acc: GrowingList<T>, page: ListResponse<T>): GrowingList<T> {
  const items = acc.items.concat(page.items);
  const total = page.total ?? items.length;
  return { items, total, complete: items.length >= total };
}

const routesQuery = {
  queryKey: keys.routes,
  queryFn: streamedQuery({
    streamFn: () => pages<Route>('/routes'),
    // A refetch (after any route write) keeps the list on screen and swaps
    // in the new one when it is whole.
    refetchMode: 'replace',
    reducer: addPage<Route>,
    initialValue: { items: [], total: 0, complete: false } as GrowingList<Route>,
  }),
};

/**
 * Every route as pages arrive, for the route list: the first thousand show
 * while the rest load (data.complete says when they are all in).
 */
export const useRoutesAsTheyLoad = () => useQuery(routesQuery);

/** Every route: pending until all of them are in, so no screen works on part of the list. */
export function useRoutes(): UseQueryResult<GrowingList<Route>> {
  const q = useQuery(routesQuery);
  if (q.data && !q.data.complete) return { ...q, data: undefined, isPending: true, isSuccess: false, status: 'pending' } as unknown as UseQueryResult<GrowingList<Route>>;
  return q;
}

export const useGateways = () => useQuery({ queryKey: keys.gateways, queryFn: () => getAll<Gateway>('/gateways') });
export const useUpstreams = () => useQuery({ queryKey: keys.upstreams, queryFn: () => getAll<Upstream>('/upstreams') });
export const useSecrets = () => useQuery({ queryKey: keys.secrets, queryFn: () => getAll<Secret>('/secrets') });
export const useRoute = (name: string | undefined) =>
  useQuery({ queryKey: keys.route(name ?? ''), queryFn: () => get<Route>(`/routes/${seg(name!)}`), enabled: !!name });

/** An upstream's endpoints as discovery sees them. */
export interface EndpointsReply {
  items: EndpointStatus[];
  source?: string;
  /** The source is unreachable: the items are the last known. */
  stale?: boolean;
  /** False while the source has not answered yet. */
  reported?: boolean;
  error?: string;
}

/**
 * How often an open endpoint view asks again: every few seconds, so an
 * outage of the source (and the stale endpoints it leaves) shows soon
 * after it starts, and faster while something is wrong (the source is
 * unreachable or has not answered yet), so its recovery shows at once.
 */
export function endpointsRefetchInterval(data: EndpointsReply | undefined): number {
  if (!data) return 2_000;
  return data.stale || data.error || data.reported === false ? 1_500 : 4_000;
}

export const useEndpoints = (name: string) =>
  useQuery({
    queryKey: keys.endpoints(name),
    queryFn: () => get<EndpointsReply>(`/upstreams/${seg(name)}/endpoints`),
    refetchInterval: (q) => endpointsRefetchInterval(q.state.data),
  });

export const useProxies = (gw: string | undefined, live = false) =>
  useQuery({
    queryKey: keys.proxies(gw ?? ''),
    queryFn: () => get<ListResponse<ProxyStatus>>(`/gateways/${seg(gw!)}/proxies`),
    enabled: !!gw,
    refetchInterval: live ? 1_500 : 10_000,
  });

/** One published version of a gateway: what went live, when and by whom. */
export interface Published {
  gateway: string;
  version: number;
  at: string;
  actor: string;
  note?: string;
  workspace: { gateways?: Gateway[]; upstreams?: Upstream[]; routes?: Route[]; secrets?: Secret[] };
}

/** One published version with its workspace (what is live when it is the newest). */
export const usePublishedVersion = (gw: string | undefined, version: number | undefined) =>
  useQuery({
    queryKey: keys.publishedVersion(gw ?? '', version ?? 0),
    queryFn: () => get<Published>(`/gateways/${seg(gw!)}/published/${version}`),
    enabled: !!gw && !!version,
    staleTime: Infinity, // a published version never changes
  });

/** Published versions of a gateway, newest first. */
export const usePublished = (gw: string | undefined) =>
  useQuery({
    queryKey: keys.published(gw ?? ''),
    queryFn: async () => {
      const list = await getAll<Published>(`/gateways/${seg(gw!)}/published`);
      return [...list.items].sort((a, b) => b.version - a.version);
    },
    enabled: !!gw,
  });

export const useRevisions = () => useQuery({ queryKey: keys.revisions, queryFn: () => get<ListResponse<Revision>>('/revisions?limit=1000') });

/** One revision with the object before and after it (lists leave them out to stay small). */
export const useRevision = (id: number | undefined) =>
  useQuery({
    queryKey: ['revisions', id, 'full'],
    queryFn: () => get<Revision>(`/revisions/${id}`),
    enabled: id !== undefined,
    staleTime: Infinity,
  });

/**
 * A request that shows a lint finding, checked with the evaluator: the
 * rule matches it, and takenBy is the rule the gateway hands it to instead.
 */
export interface LintWitness {
  method: string;
  url: string;
  /** Headers it must carry, by lower-case name. */
  headers?: Record<string, string>;
  /** The listener it arrives on, when the rules involved answer on some listeners only. */
  listener?: string;
  takenBy?: string;
}

/** A change to one field of a rule that removes a finding ("when": value is condition text). */
export interface LintFix {
  field: string;
  value: string;
  message: string;
}

/**
 * A rule of a gateway's draft that never matches (kind shadowed: an
 * earlier rule takes every request it would), or another problem of it
 * (kind rewrite-slash). Servers before kinds existed send only shadowed
 * findings, without kind.
 */
export interface LintFinding {
  rule: string;
  kind?: 'shadowed' | 'rewrite-slash' | string;
  severity?: 'error' | 'warning' | string;
  shadowedBy: string;
  message: string;
  witness?: LintWitness | null;
  fix?: LintFix | null;
}

/** Something to know about a rule that still works: an earlier rule takes part of its requests (overlap), or a rate limit Envoy counts per route. */
export interface LintNote {
  rule: string;
  kind?: 'overlap' | 'rate-limit' | string;
  shadowedBy?: string;
  message: string;
  witness?: LintWitness;
}

/** A finding that the rule never matches. */
export const isShadowed = (f: LintFinding) => !f.kind || f.kind === 'shadowed';

/** A witness request in one line, as curl-like text: GET http://host/path with x-canary: 1. */
export function witnessText(w: LintWitness): string {
  const headers = Object.entries(w.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  return `${w.method} ${w.url}${headers.length ? ` with ${headers.join(', ')}` : ''}${w.listener ? ` on listener ${w.listener}` : ''}`;
}

/** The lint findings and notes of one gateway's draft routes. */
export const useLint = (gw: string | undefined) =>
  useQuery({
    queryKey: keys.lint(gw ?? ''),
    queryFn: () => get<{ items: LintFinding[]; notes?: LintNote[] }>(`/gateways/${seg(gw!)}/lint`),
    enabled: !!gw,
  });

/** The key of a finding in lintIndex: rule names are unique per gateway only. */
export const lintKey = (gateway: string, rule: string) => `${gateway}\u0000${rule}`;

/** Indexes the findings of several gateways by lintKey. */
export function lintIndex(perGateway: { gateway: string; items?: LintFinding[] }[]): Map<string, LintFinding> {
  const out = new Map<string, LintFinding>();
  for (const { gateway, items } of perGateway) {
    for (const f of items ?? []) if (isShadowed(f)) out.set(lintKey(gateway, f.rule), f);
  }
  return out;
}

/**
 * The lint findings of several gateways at once, indexed by lintKey. A
 * gateway whose lint fails only loses its badges: the list still shows.
 */
export function useLints(gateways: string[]) {
  return useQueries({
    queries: gateways.map((gw) => ({
      queryKey: keys.lint(gw),
      queryFn: () => get<{ items: LintFinding[] }>(`/gateways/${seg(gw)}/lint`),
    })),
    combine: (results) => lintIndex(results.map((r, i) => ({ gateway: gateways[i], items: r.data?.items }))),
  });
}

/** Saves a route: POST when it is new, PUT with its version otherwise. */
export function useSaveRoute() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ route, isNew, originalName }: { route: Route; isNew: boolean; originalName?: string }) =>
      isNew ? post<Route>('/routes', route) : put<Route>(`/routes/${seg(originalName ?? route.name)}`, route),
    onSuccess: (saved) => {
      qc.setQueryData(keys.route(saved.name), saved);
      qc.invalidateQueries({ queryKey: keys.routes });
      qc.invalidateQueries({ queryKey: keys.lints });
      qc.invalidateQueries({ queryKey: keys.revisions });
    },
  });
}

export function useDeleteRoute() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (r: Route) => del<void>(`/routes/${seg(r.name)}?version=${r.version ?? ''}`),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: keys.routes });
      qc.invalidateQueries({ queryKey: keys.lints });
      qc.invalidateQueries({ queryKey: keys.revisions });
    },
  });
}

/** The kinds the generic object editors save, by their API collection. */
export type ObjectCollection = 'gateways' | 'upstreams' | 'secrets';

/** Fetches one gateway, upstream or secret. */
export const useObject = <T,>(collection: ObjectCollection, name: string | undefined) =>
  useQuery({
    queryKey: [collection, name ?? ''],
    queryFn: () => get<T>(`/${collection}/${seg(name!)}`),
    enabled: !!name,
  });

/** Saves a gateway, upstream or secret: POST when new, PUT (carrying its version) otherwise. */
export function useSaveObject<T extends { name: string }>(collection: ObjectCollection) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ obj, isNew }: { obj: T; isNew: boolean }) =>
      isNew ? post<T>(`/${collection}`, obj) : put<T>(`/${collection}/${seg(obj.name)}`, obj),
    onSuccess: (saved) => {
      qc.setQueryData([collection, saved.name], saved);
      qc.invalidateQueries({ queryKey: [collection] });
      qc.invalidateQueries({ queryKey: keys.revisions });
    },
  });
}

/** Deletes a gateway, upstream or secret at the version the editor loaded (409 when it moved on). */
export function useDeleteObject(collection: ObjectCollection) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ name, version }: { name: string; version?: number }) => del<void>(`/${collection}/${seg(name)}?version=${version ?? ''}`),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: [collection] });
      qc.invalidateQueries({ queryKey: keys.revisions });
    },
  });
}

/** Sends a test request through the sandbox; `target` is draft (default), live or a published version as `vN`. */
export const sendSandboxRequest = (gateway: string, request: SandboxRequest, target?: string) =>
  post<SandboxResult>('/sandbox/requests', target && target !== 'draft' ? { gateway, target, request } : { gateway, request });

/** The reference evaluator's verdict; `full` adds a page of the whole trace (from `cursor`, the previous page's traceNext). */
export const evaluateRequest = (gateway: string, request: SandboxRequest, full?: { cursor?: string }) =>
  post<EvaluateResult>(
    '/evaluate' + (full ? `?trace=full${full.cursor ? `&cursor=${encodeURIComponent(full.cursor)}` : ''}` : ''),
    { gateway, request },
  );

export interface SimulationProfile {
  gateway: string;
  requests: number;
  mix: { method: string; url: string; headers?: Record<string, string>; weight: number }[];
  upstreams?: Record<string, UpstreamBehaviour & { endpoints?: Record<string, UpstreamBehaviour> }>;
}

/** How an upstream's mocks (or one endpoint's) behave during a simulation. */
export interface UpstreamBehaviour {
  latencyMs?: number;
  /** Share of 5xx answers, 0 to 1. */
  errorRate?: number;
}

export const runSimulation = (profile: SimulationProfile) => post<SimulationResult>('/sandbox/simulations', profile);
