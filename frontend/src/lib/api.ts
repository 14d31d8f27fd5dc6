// The one place the UI talks to the server. Everything goes to /api/v1 with
// the session cookie; unsafe methods carry the CSRF token the login returned.

import type { FieldProblem } from './problems';

export const API_BASE = '/api/v1';

let csrfToken = '';

/** Remembers the CSRF token from login or /auth/me for later writes. */
export function setCsrfToken(token: string | undefined) {
  csrfToken = token ?? '';
}

/** An API failure, carrying the problem document's parts. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldProblem[] = [],
  ) {
    super(detail || title || `request failed (${status})`);
    this.name = 'ApiError';
  }
}

/** Called when the server says the session is gone, so the app can show the login. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Sends a JSON request and returns the decoded JSON reply. */
export async function api<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (UNSAFE.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'Server unreachable', 'The routedeck server did not answer. Check that it is running.');
  }
  if (res.status === 401 && !opts.quiet401) onUnauthorized();
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) throw toApiError(res.status, data);
  return data as T;
}

const FRIENDLY: Record<number, string> = {
  400: 'The request was not valid.',
  401: 'Please sign in.',
  403: 'Your role does not allow this.',
  404: 'Not found.',
  409: 'Someone else changed this in the meantime. Reload to see their version.',
  500: 'The server hit an internal error; details are in its log.',
};

function toApiError(status: number, data: unknown): ApiError {
  const p = (data && typeof data === 'object' ? data : {}) as {
    title?: string;
    detail?: string;
    errors?: FieldProblem[];
  };
  const title = typeof p.title === 'string' ? p.title : '';
  let detail = typeof p.detail === 'string' ? p.detail : '';
  // Never surface a raw server dump (a stack trace or HTML error page).
  if (detail.length > 500 || /\n\s+at |goroutine \d+/.test(detail)) detail = '';
  if (!detail) detail = FRIENDLY[status] ?? (status >= 500 ? FRIENDLY[500] : `Request failed (${status}).`);
  const errors = Array.isArray(p.errors) ? p.errors.filter((e) => e && typeof e.message === 'string') : [];
  return new ApiError(status, title, detail, errors);
}

/** "validation failed" -> "Validation failed." */
function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** A message fit for a notification, whatever was thrown. */
export function friendlyMessage(e: unknown): string {
  if (e instanceof ApiError) {
    const detail = sentence(e.detail);
    if (e.errors.length > 0 && e.status === 400) {
      return `${detail} ${e.errors.length === 1 ? '1 problem' : `${e.errors.length} problems`} to fix.`;
    }
    return detail;
  }
  return 'Something went wrong. Try again.';
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const put = <T,>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T,>(path: string, body?: unknown) => api<T>('DELETE', path, body);

/** Encodes a path segment (names may contain dots and such). */
export const seg = (s: string) => encodeURIComponent(s);
