// Objects as diffs show them: YAML-like text in the layout of the manifest
// files people write, with a route's condition as condition-language text
// ("path.prefix("/api") && method == "GET"") rather than the tree the API
// stores. History and Publish both diff this text, so a change reads the
// same wherever it is shown.

import { formatCondition, normalizeCondition } from './conditionText';
import type { Condition } from './model';

// Bookkeeping that changes on every save without changing behaviour, and
// the server's own rendering of a route's condition (shown from the tree).
const IGNORED = new Set(['version', 'updatedAt', 'updatedBy', 'kind', 'whenText']);

/** The condition of a route as text; the empty condition matches every request. */
function conditionText(when: unknown): string {
  if (typeof when === 'string') return when.trim() || 'true';
  if (!when || typeof when !== 'object') return 'true';
  return formatCondition(normalizeCondition(when as Condition)) || 'true';
}

// Strings that YAML would read as something else, or that would not
// survive the line they are on, are quoted.
const PLAIN = /^[A-Za-z0-9_/.@%+~^$*()[\]{}?=!,;&|<>'-][^\n#]*$/;
const NOT_PLAIN = /^(true|false|null|yes|no|on|off|~|[-+]?\d[\d_]*(\.\d*)?(e[-+]?\d+)?)$/i;
function scalar(v: unknown): string {
  if (typeof v === 'string') {
    if (v === '' || !PLAIN.test(v) || NOT_PLAIN.test(v) || /: |\s$/.test(v) || /^[[{]/.test(v)) return JSON.stringify(v);
    return v;
  }
  if (v === null || v === undefined) return 'null';
  return String(v);
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null;
}

function emit(v: unknown, indent: string, out: string[], top: boolean, routeLike: boolean) {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length > 0) {
        const lines: string[] = [];
        emit(item, indent + '  ', lines, false, false);
        // The first key goes on the dash's line.
        out.push(indent + '- ' + lines[0].slice(indent.length + 2), ...lines.slice(1));
      } else if (Array.isArray(item) && item.length > 0) {
        out.push(indent + '-');
        emit(item, indent + '  ', out, false, false);
      } else {
        out.push(indent + '- ' + inline(item));
      }
    }
    return;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (top && routeLike && k === 'when') {
      out.push(`${indent}when: ${conditionText(x)}`);
      continue;
    }
    if (isEmpty(x) || (top && IGNORED.has(k))) continue;
    const key = /^[A-Za-z0-9_.-]+$/.test(k) ? k : JSON.stringify(k);
    if (x && typeof x === 'object' && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0)) {
      out.push(`${indent}${key}:`);
      emit(x, Array.isArray(x) ? indent : indent + '  ', out, false, false);
    } else {
      out.push(`${indent}${key}: ${inline(x)}`);
    }
  }
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (v && typeof v === 'object') return '{}';
  return scalar(v);
}

/**
 * The text of one object for a diff. `kind` says how to read it: a
 * route's `when` is shown as condition text, and a route without one
 * says that it matches every request.
 */
export function objectText(kind: string, obj: unknown): string {
  if (obj === undefined || obj === null) return '';
  if (typeof obj !== 'object') return scalar(obj);
  const routeLike = kind.toLowerCase() === 'route';
  let o = obj as Record<string, unknown>;
  if (routeLike && !('when' in o)) {
    // A route without a condition says so, just before what it does.
    const withWhen: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (k === 'then') withWhen.when = undefined;
      withWhen[k] = v;
    }
    if (!('when' in withWhen)) withWhen.when = undefined;
    o = withWhen;
  }
  const out: string[] = [];
  emit(o, '', out, true, routeLike);
  return out.join('\n');
}
