import { describe, expect, it } from 'vitest';
import {
  ConditionSyntaxError,
  KEYED_FIELDS,
  OP_METHODS,
  PLAIN_FIELDS,
  formatCondition,
  isListOp,
  isNullaryOp,
  normalizeCondition,
  parseCondition,
  quote,
  tryParseCondition,
} from './conditionText';
import type { Condition } from './model';

// A small deterministic PRNG so a failing tree can be reproduced from its seed.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'shop.example.com', '/static', 'GET', 'a "quoted" value', 'back\\slash', 'tab\tnew\nline', 'ünïcødé 😀', '\u0000\u001f\u007f', '*.example.com', '^/v[0-9]+/.*$', ']', '&& ||'];
const OPS = Object.keys(OP_METHODS);

function genPredicate(r: () => number): Condition {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const field = r() < 0.6 ? pick(PLAIN_FIELDS) : `${pick(KEYED_FIELDS)}[${pick(['x-canary', 'v', 'session id', 'a]b', 'é"q'])}]`;
  const op = pick(OPS);
  const c: Condition = { field, op };
  if (isListOp(op)) c.values = Array.from({ length: Math.floor(r() * 4) }, () => pick(STRINGS));
  else if (!isNullaryOp(op)) c.value = pick(STRINGS);
  if (r() < 0.25) c.ignoreCase = true;
  return c;
}

function genTree(r: () => number, depth: number): Condition {
  const x = r();
  if (depth <= 0 || x < 0.4) return genPredicate(r);
  if (x < 0.55) return { not: genTree(r, depth - 1) };
  const n = 1 + Math.floor(r() * 4); // 1 exercises collapsing
  const kids = Array.from({ length: n }, () => genTree(r, depth - 1));
  return x < 0.8 ? { all: kids } : { any: kids };
}

describe('condition text round trip', () => {
  it('parse(format(tree)) == tree for generated trees', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const tree = normalizeCondition(genTree(rng(seed), 4));
      const text = formatCondition(tree);
      let back: Condition;
      try {
        back = parseCondition(text);
      } catch (e) {
        throw new Error(`seed ${seed}: ${text}: ${(e as Error).message}`);
      }
      expect(back, `seed ${seed}: ${text}`).toEqual(tree);
      expect(formatCondition(back)).toBe(text);
    }
  });

  it('keeps nested groups of the same kind', () => {
    const tree: Condition = {
      all: [
        { field: 'host', op: 'equals', value: 'a' },
        { all: [{ field: 'path', op: 'prefix', value: '/x' }, { field: 'method', op: 'equals', value: 'GET' }] },
      ],
    };
    expect(formatCondition(tree)).toBe('host == "a" && (path.prefix("/x") && method == "GET")');
    expect(parseCondition(formatCondition(tree))).toEqual(tree);
  });
});

describe('condition text examples', () => {
  const tests: Record<string, { text: string; tree: Condition; canonical?: string }> = {
    empty: { text: '', tree: {} },
    'design example': {
      text: 'host == "shop.example.com" && path.prefix("/static") && method in ["GET", "HEAD"]',
      tree: {
        all: [
          { field: 'host', op: 'equals', value: 'shop.example.com' },
          { field: 'path', op: 'prefix', value: '/static' },
          { field: 'method', op: 'in', values: ['GET', 'HEAD'] },
        ],
      },
    },
    'or binds looser than and': {
      text: 'host == "a" && path == "/b" || header["x-canary"].present()',
      tree: {
        any: [
          { all: [{ field: 'host', op: 'equals', value: 'a' }, { field: 'path', op: 'equals', value: '/b' }] },
          { field: 'header[x-canary]', op: 'present' },
        ],
      },
    },
    'negated group': {
      text: '!(query["debug"] != "1" || cookie["beta"].absent())',
      tree: {
        not: {
          any: [
            { field: 'query[debug]', op: 'not-equals', value: '1' },
            { field: 'cookie[beta]', op: 'absent' },
          ],
        },
      },
    },
    'ignore case': {
      text: 'host.equals("Shop.Example.com", ignoreCase)',
      tree: { field: 'host', op: 'equals', value: 'Shop.Example.com', ignoreCase: true },
    },
    'not in': {
      text: 'method not in ["DELETE"]',
      tree: { field: 'method', op: 'not-in', values: ['DELETE'] },
    },
    'path specific operators': {
      text: 'path.segmentPrefix("/api") && path.template("/users/{id}") && path.exact("/")',
      tree: {
        all: [
          { field: 'path', op: 'segment-prefix', value: '/api' },
          { field: 'path', op: 'template', value: '/users/{id}' },
          { field: 'path', op: 'exact', value: '/' },
        ],
      },
    },
    grpc: {
      text: 'grpc.present() && grpc.service == "shop.v1.Cart" && grpc.method.prefix("Add")',
      tree: {
        all: [
          { field: 'grpc', op: 'present' },
          { field: 'grpc.service', op: 'equals', value: 'shop.v1.Cart' },
          { field: 'grpc.method', op: 'prefix', value: 'Add' },
        ],
      },
    },
    'method form of == is printed short': {
      text: 'host.equals("a")',
      tree: { field: 'host', op: 'equals', value: 'a' },
      canonical: 'host == "a"',
    },
    escapes: {
      text: 'cookie["a]b"] == "q\\"\\\\\\n\\u00e9\\t" && header["x"].suffix("\\u0001")',
      tree: { all: [{ field: 'cookie[a]b]', op: 'equals', value: 'q"\\\né\t' }, { field: 'header[x]', op: 'suffix', value: '\u0001' }] },
      canonical: 'cookie["a]b"] == "q\\"\\\\\\né\\t" && header["x"].suffix("\\u0001")',
    },
    'double negation': {
      text: '!!host == "a"',
      tree: { not: { not: { field: 'host', op: 'equals', value: 'a' } } },
      canonical: '!(!(host == "a"))',
    },
    'multi-line': {
      text: 'host == "a"\n  && path.prefix("/b")',
      tree: { all: [{ field: 'host', op: 'equals', value: 'a' }, { field: 'path', op: 'prefix', value: '/b' }] },
      canonical: 'host == "a" && path.prefix("/b")',
    },
    'redundant parentheses vanish': {
      text: '((host == "a"))',
      tree: { field: 'host', op: 'equals', value: 'a' },
      canonical: 'host == "a"',
    },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => {
      expect(parseCondition(tc.text)).toEqual(tc.tree);
      expect(formatCondition(tc.tree)).toBe(tc.canonical ?? tc.text);
    });
  }
});

// The same cases as backend/rules TestParseErrors: the browser must refuse
// what the server refuses, at the same place, with the same words.
describe('condition text errors', () => {
  const tests: Record<string, { text: string; want: string }> = {
    'missing string after ==': { text: 'host == shop', want: '1:9: expected a quoted string after ==, found "shop"' },
    'column after prefix': { text: 'path.prefix("/a") && host == ', want: '1:30: expected a quoted string after ==, found end of text' },
    'second line': { text: 'host == "a" &&\n  hots == "b"', want: '2:3: unknown field "hots"' },
    'unknown method': { text: 'path.startsWith("/a")', want: '1:6: unknown operator "startsWith"' },
    'unterminated string': { text: 'host == "abc', want: '1:9: unterminated string' },
    'bad escape': { text: 'host == "a\\q"', want: '1:9: invalid string' },
    'unclosed group': { text: '(host == "a"', want: '1:13: expected ")" to close the group opened at 1:1' },
    'juxtaposed predicates': { text: 'host == "a" path == "/"', want: '1:13: unexpected "path": join conditions with && or ||' },
    'single ampersand': { text: 'host == "a" & path == "/"', want: "1:13: unexpected character '&'" },
    'empty header name': { text: 'header[""].present()', want: '1:8: header name must not be empty' },
    'header without name': { text: 'header == "a"', want: '1:8: header needs a name' },
    'not without in': { text: 'method not ["GET"]', want: '1:12: expected "in" after "not"' },
    'method needs value': { text: 'path.prefix()', want: '1:6: .prefix() needs a quoted string' },
    'present takes no value': { text: 'header["x"].present("a")', want: '1:21: unexpected argument' },
    'list element not string': { text: 'method in [GET]', want: '1:12: expected a quoted string in the list' },
    'unicode column': { text: 'host == "é" && ?', want: "1:16: unexpected character '?'" },
    'regex operator not in use': { text: 'path =~ "/a"', want: '1:6: =~ is not part of the language: use .regex("...")' },
    'too deep': { text: '!'.repeat(300) + 'host == "a"', want: 'nested too deeply' },
    'ignoreCase twice': { text: 'host.equals("a", ignoreCase, ignoreCase)', want: '1:30: unexpected argument "ignoreCase"' },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => {
      let err: unknown;
      try {
        parseCondition(tc.text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConditionSyntaxError);
      expect((err as Error).message).toContain(tc.want);
    });
  }

  it('reports line and column separately for the editor', () => {
    const r = tryParseCondition('host == "a" &&\n  hots == "b"');
    expect('error' in r && [r.error.line, r.error.column, r.error.offset]).toEqual([2, 3, 17]);
  });
});

describe('quote', () => {
  it('escapes like the server: control characters as \\u00xx, non-ASCII as is', () => {
    expect(quote('a"b\\c\n\r\t\b\u007f é 😀')).toBe('"a\\"b\\\\c\\n\\r\\t\\u0008\u007f é 😀"');
  });
});

describe('formatCondition', () => {
  it('prints single-member groups as their member', () => {
    expect(formatCondition({ all: [{ any: [{ field: 'host', op: 'equals', value: 'a' }, { field: 'host', op: 'equals', value: 'b' }] }] })).toBe(
      'host == "a" || host == "b"',
    );
  });
});

describe('normalizeCondition', () => {
  it('collapses single-member groups and drops empty ones', () => {
    expect(normalizeCondition({ all: [{ any: [{ field: 'host', op: 'equals', value: 'a' }] }, { all: [] }] })).toEqual({
      field: 'host',
      op: 'equals',
      value: 'a',
    });
    expect(normalizeCondition({ not: { all: [] } })).toEqual({});
  });
});
