// The request log of a gateway as the dashboard reads it: filters as the
// API takes them, pages of entries newest first, entries that arrive live,
// explanations, and per-rule traffic for the overview and the route page.

import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { API_BASE, get, seg } from './api';
import type { components } from './openapi.gen';

type Schemas = components['schemas'];
export type LogEntry = Schemas['LogEntry'] & { id: number; time: string; status: number };
export type LogExplanation = Schemas['LogExplanation'];
export type Traffic = Schemas['Traffic'];
export type RuleTraffic = Schemas['RuleTraffic'];
export type TrafficSeries = Schemas['TrafficSeries'];

/** What the request log is filtered by. Empty strings do not filter. */
export interface LogFilters {
  rule: string;
  /** A code (404), a class (5xx) or a range (500-504), as the API reads it. */
  status: string;
  host: string;
  /** A path prefix. */
  path: string;
  /** How far back: a duration the API reads (15m, 1h, 24h), or '' for everything kept. */
  window: string;
}

export const noFilters: LogFilters = { rule: '', status: '', host: '', path: '', window: '' };

/** The time windows offered, as the API reads them. */
export const WINDOWS = [
  { value: '15m', label: 'Last 15 min' },
  { value: '1h', label: 'Last hour' },
  { value: '6h', label: 'Last 6 hours' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '', label: 'Everything kept' },
];

/** The status filters offered. */
export const STATUSES = [
  { value: '', label: 'Any status' },
  { value: '2xx', label: '2xx' },
  { value: '3xx', label: '3xx' },
  { value: '4xx', label: '4xx' },
  { value: '404', label: '404' },
  { value: '5xx', label: '5xx' },
];

const WINDOW_MS: Record<string, number> = { '15m': 15 * 60_000, '1h': 3_600_000, '6h': 6 * 3_600_000, '24h': 24 * 3_600_000 };

/**
 * The query of a listing (or, with follow, of the live stream) for the
 * filters. A window becomes a fixed start at `now`, so that the pages of
 * one listing cover the same span however long the reader scrolls.
 */
export function logQuery(f: LogFilters, now: number, follow = false): URLSearchParams {
  const q = new URLSearchParams();
  const set = (k: string, v: string) => {
    const t = v.trim();
    if (t) q.set(k, t);
  };
  set('rule', f.rule);
  set('status', f.status);
  set('host', f.host);
  set('path', f.path);
  if (follow) q.set('follow', 'true');
  else if (f.window && WINDOW_MS[f.window]) q.set('since', new Date(now - WINDOW_MS[f.window]).toISOString());
  return q;
}

/** The filters a link carries (?rule=...&status=...), the rest empty. */
export function filtersFromSearch(s: URLSearchParams): LogFilters {
  const window = s.get('window') ?? '1h';
  return {
    rule: s.get('rule') ?? '',
    status: s.get('status') ?? '',
    host: s.get('host') ?? '',
    path: s.get('path') ?? '',
    window: window in WINDOW_MS || window === '' ? window : '1h',
  };
}

/** Whether an entry that arrived live passes the filters (the server applies them too; this keeps the two in step when filters change mid-stream). */
export function matchesFilters(e: LogEntry, f: LogFilters): boolean {
  if (f.rule.trim() && e.rule !== f.rule.trim()) return false;
  if (f.host.trim() && e.host !== f.host.trim().toLowerCase()) return false;
  if (f.path.trim() && !(e.path ?? '').startsWith(f.path.trim())) return false;
  const s = f.status.trim().toLowerCase();
  if (s) {
    const m = /^([1-5])xx$/.exec(s);
    if (m) {
      if (Math.floor(e.status / 100) !== Number(m[1])) return false;
    } else if (/^\d{3}-\d{3}$/.test(s)) {
      const [lo, hi] = s.split('-').map(Number);
      if (e.status < lo || e.status > hi) return false;
    } else if (/^\d{3}$/.test(s) && e.status !== Number(s)) return false;
  }
  return true;
}

/** The most entries the log holds in the page: beyond, narrow the filters. */
export const MAX_ROWS = 100_000;

/**
 * The rows to show: entries that arrived live (newest first) above the
 * pages listed, without an entry twice, at most max of them. The listing
 * is in order of start time and the stream in order of arrival, so a slow
 * request may be in both: it shows once, where the listing has it.
 */
export function mergeRows(live: LogEntry[], listed: LogEntry[], max = MAX_ROWS): LogEntry[] {
  let fresh = live;
  if (live.length > 0 && listed.length > 0) {
    const ids = new Set(live.map((e) => e.id));
    const dup = new Set(listed.filter((e) => ids.has(e.id)).map((e) => e.id));
    if (dup.size > 0) fresh = live.filter((e) => !dup.has(e.id));
  }
  const rows = fresh.length === 0 ? listed : fresh.concat(listed);
  return rows.length > max ? rows.slice(0, max) : rows;
}

/** The Mantine colour of a status code's class. */
export function statusColor(status: number): string {
  if (status >= 500 || status === 0) return 'red';
  if (status >= 400) return 'orange';
  if (status >= 300) return 'blue';
  if (status >= 200) return 'green';
  return 'gray';
}

/** "2026-12-07T19:20:01.123Z" as the log shows it: local time of day with milliseconds, and the date when it is not today. */
export function logTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** "4" -> "v4"; a label that is not a published version number as it is. */
export function versionLabel(v: string | undefined): string {
  if (!v) return '—';
  return /^\d+$/.test(v) ? `v${v}` : v;
}

interface LogPage {
  items: LogEntry[];
  next?: string;
}

/** The first page is small, so the first rows show at once; later pages are the server's largest. */
const FIRST_PAGE = 200;
const PAGE = 1000;

/** A gateway's request log, newest first, a page at a time (fetchNextPage for older ones). */
export function useLogPages(gateway: string | undefined, filters: LogFilters, since: number) {
  return useInfiniteQuery({
    queryKey: ['logs', gateway ?? '', filters, since],
    queryFn: ({ pageParam }) => {
      const q = logQuery(filters, since);
      q.set('limit', String(pageParam ? PAGE : FIRST_PAGE));
      if (pageParam) q.set('cursor', pageParam);
      return get<LogPage>(`/gateways/${seg(gateway!)}/logs?${q}`);
    },
    initialPageParam: '',
    getNextPageParam: (last) => last.next || undefined,
    enabled: !!gateway,
    // A listing is a snapshot; new entries come through the live stream.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
}

/**
 * The URL of the live stream of entries passing the filters (server-sent
 * events), starting after entry `after` (the newest listed) so that none
 * falls between the listing and the stream.
 */
export function followUrl(gateway: string, filters: LogFilters, after?: number): string {
  const q = logQuery(filters, 0, true);
  if (after !== undefined) q.set('after', String(after));
  return `${API_BASE}/gateways/${seg(gateway)}/logs?${q}`;
}

/** A logged request explained against the version that served it. */
export const useLogExplanation = (gateway: string | undefined, id: number | undefined) =>
  useQuery({
    queryKey: ['logs', gateway ?? '', 'explain', id ?? 0],
    queryFn: () => get<LogExplanation>(`/gateways/${seg(gateway!)}/logs/${id}/explain`),
    enabled: !!gateway && !!id,
    staleTime: Infinity,
  });

/** Every rule tried for a logged request, with every condition (the first 500). */
export const fullLogTrace = (gateway: string, id: number) => get<LogExplanation>(`/gateways/${seg(gateway)}/logs/${id}/explain?trace=full&limit=500`);

/** Per-rule traffic of a gateway over a window (busiest, failing, idle rules). */
export const useTraffic = (gateway: string | undefined, window: string) =>
  useQuery({
    queryKey: ['traffic', gateway ?? '', window],
    queryFn: () => get<Traffic>(`/gateways/${seg(gateway!)}/traffic?window=${encodeURIComponent(window)}`),
    enabled: !!gateway,
    refetchInterval: 15_000,
  });

/** One rule's traffic step by step over a window. */
export const useTrafficSeries = (gateway: string | undefined, rule: string | undefined, window: string) =>
  useQuery({
    queryKey: ['traffic', gateway ?? '', 'series', rule ?? '', window],
    queryFn: () => get<TrafficSeries>(`/gateways/${seg(gateway!)}/traffic/series?rule=${encodeURIComponent(rule!)}&window=${encodeURIComponent(window)}`),
    enabled: !!gateway && rule !== undefined,
    refetchInterval: 15_000,
  });

/** A series as the charts plot it: local time labels, error rate in percent. */
export function chartPoints(s: TrafficSeries | undefined) {
  return (s?.points ?? []).map((p) => {
    const d = new Date(p.time);
    return {
      time: `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`,
      requests: p.requests,
      errorRate: Math.round(p.errorRate * 1000) / 10,
      p99: p.requests > 0 ? p.p99Ms : null,
    };
  });
}

/** What the overview says of a gateway's traffic: totals, the five busiest rules, the failing ones and those without traffic. */
export function trafficSummary(t: Traffic, busiest = 5) {
  const items = t.items ?? [];
  let requests = 0;
  let errors = 0;
  for (const r of items) {
    requests += r.requests ?? 0;
    errors += (r.errorRate ?? 0) * (r.requests ?? 0);
  }
  return {
    requests,
    errorRate: requests > 0 ? errors / requests : 0,
    busiest: items.filter((r) => (r.requests ?? 0) > 0).slice(0, busiest),
    failing: t.failing ?? [],
    idle: t.noTraffic ?? [],
  };
}
