// Route tests as the dashboard edits them: the expectations of a test as a
// list of rows (what is checked, and the value it must have), and back.

import type { SandboxRequest } from './model';

/** What must happen to a test's request. Unset fields are not checked. */
export interface TestExpect {
  rule?: string;
  upstream?: string;
  /** The request reaches one of these (a weighted split: which one is chance). */
  upstreamIn?: string[];
  path?: string;
  host?: string;
  redirect?: string;
  status?: number;
  /** null: the header must be absent. */
  requestHeaders?: Record<string, string | null>;
  responseHeaders?: Record<string, string | null>;
  /** Expectations this editor has no row for are kept as they are. */
  [other: string]: unknown;
}

/** A saved case: a request and what must happen to it (router_check style). */
export interface RouteTest {
  name: string;
  gateway: string;
  description?: string;
  request: SandboxRequest;
  expect: TestExpect;
  version?: number;
}

export type ExpectKind = 'rule' | 'upstream' | 'upstreamIn' | 'path' | 'host' | 'redirect' | 'status' | 'requestHeader' | 'responseHeader';

/** One checked thing: a field, or one header by name, and the value it must have. */
export interface ExpectRow {
  kind: ExpectKind;
  /** The header's name, for the header kinds. */
  header?: string;
  value: string;
  /** For headers: the header must not be there at all. */
  absent?: boolean;
}

export const EXPECT_LABELS: Record<ExpectKind, string> = {
  rule: 'Rule',
  upstream: 'Upstream',
  upstreamIn: 'Upstream is one of',
  path: 'Path at the upstream',
  host: 'Host at the upstream',
  redirect: 'Redirect to',
  status: 'Status',
  requestHeader: 'Header the upstream gets',
  responseHeader: 'Header the client gets',
};

const SCALARS = ['rule', 'upstream', 'path', 'host', 'redirect', 'status'] as const;

/** The rows of an expectation, in a fixed order. */
export function expectRows(e: TestExpect): ExpectRow[] {
  const rows: ExpectRow[] = [];
  for (const k of SCALARS) {
    if (e[k] !== undefined && e[k] !== null) rows.push({ kind: k, value: String(e[k]) });
    if (k === 'upstream' && Array.isArray(e.upstreamIn)) rows.push({ kind: 'upstreamIn', value: e.upstreamIn.join(', ') });
  }
  for (const [kind, key] of [['requestHeader', 'requestHeaders'], ['responseHeader', 'responseHeaders']] as const) {
    for (const [header, v] of Object.entries(e[key] ?? {})) rows.push({ kind, header, value: v ?? '', absent: v === null });
  }
  return rows;
}

/** Expectations the editor leaves alone (fields it has no row kind for). */
export function otherExpectations(e: TestExpect): TestExpect {
  const out: TestExpect = {};
  for (const [k, v] of Object.entries(e)) {
    if ((SCALARS as readonly string[]).includes(k) || k === 'upstreamIn' || k === 'requestHeaders' || k === 'responseHeaders') continue;
    out[k] = v;
  }
  return out;
}

/**
 * The expectation the rows say, on top of `kept` (otherExpectations of the
 * test as loaded). A status that is not a number is sent as it is, so the
 * server names the field; rule "" means that no rule may match.
 */
export function rowsToExpect(rows: ExpectRow[], kept: TestExpect = {}): TestExpect {
  const e: TestExpect = { ...kept };
  for (const r of rows) {
    if (r.kind === 'requestHeader' || r.kind === 'responseHeader') {
      const key = r.kind === 'requestHeader' ? 'requestHeaders' : 'responseHeaders';
      const map = (e[key] ?? {}) as Record<string, string | null>;
      map[(r.header ?? '').trim()] = r.absent ? null : r.value;
      e[key] = map;
    } else if (r.kind === 'upstreamIn') {
      e.upstreamIn = r.value.split(',').map((x) => x.trim()).filter(Boolean);
    } else if (r.kind === 'status') {
      const n = Number(r.value);
      (e as Record<string, unknown>).status = r.value.trim() !== '' && Number.isInteger(n) ? n : r.value;
    } else {
      e[r.kind] = r.value;
    }
  }
  return e;
}

/** Request headers as name/value rows, one per value. */
export function headerRows(h: Record<string, string | string[]> | undefined): { name: string; value: string }[] {
  return Object.entries(h ?? {}).flatMap(([name, v]) => (Array.isArray(v) ? v : [v]).map((value) => ({ name, value })));
}

/** Name/value rows as request headers: a name given twice keeps every value; rows without a name are left out. */
export function rowsToHeaders(rows: { name: string; value: string }[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const { name, value } of rows) {
    const n = name.trim();
    if (!n) continue;
    const cur = out[n];
    out[n] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
  }
  return out;
}

/** A one-line summary of what a test checks. */
export function expectSummary(e: TestExpect): string {
  return expectRows(e)
    .map((r) => {
      if (r.kind === 'requestHeader' || r.kind === 'responseHeader') return `${r.kind === 'requestHeader' ? 'upstream gets' : 'client gets'} ${r.header}${r.absent ? ' absent' : `=${r.value}`}`;
      if (r.kind === 'rule' && r.value === '') return 'no rule';
      if (r.kind === 'upstreamIn') return `upstream in [${r.value}]`;
      return `${r.kind}=${r.value}`;
    })
    .concat(Object.entries(otherExpectations(e)).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`))
    .join(' · ');
}

/**
 * What a test saved from a sandbox result expects of the upstream. When the
 * rule splits its traffic, which upstream answered was chance: the test
 * asks for one of the split's upstreams (those with a weight), never the
 * one that happened to answer.
 */
export function upstreamExpectation(forward: { upstream: string; weight?: number }[] | undefined, answered: string): Pick<TestExpect, 'upstream' | 'upstreamIn'> {
  const split = (forward ?? []).filter((b) => forward!.length === 1 || (b.weight ?? 0) > 0).map((b) => b.upstream);
  const members = [...new Set(split)];
  if (members.length > 1 && members.includes(answered)) return { upstreamIn: members.sort() };
  return { upstream: answered };
}
