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

const STRINGS = ['', 'shop.example.com', '/static', 'GET', 'a "quoted" value', 'back\\slash', 'tab\tnew\nline', 'ünïcødé', '*.example.com', '^/v[0-9]+/.*$', ']', '&& ||'];
const OPS = Object.keys(OP_METHODS);

function genPredicate(r: () => number): Condition {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const field = r() < 0.6 ? pick(PLAIN_FIELDS) : `${pick(KEYED_FIELDS)}[${pick(['x-canary', 'v', 'session id', 'a]b'])}]`;
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
  const n = 2 + Math.floor(r() * 3);
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

describe('condition text errors', () => {
  const tests: Record<string, { text: string; message: RegExp; column: number }> = {
    'unknown field': { text: 'hots == "a"', message: /unknown field "hots"/, column: 1 },
    'missing value': { text: 'host ==', message: /expected a value/, column: 8 },
    'unterminated string': { text: 'host == "a', message: /unterminated string/, column: 9 },
    'unknown operator': { text: 'path.startsWith("/")', message: /unknown operator "startsWith"/, column: 6 },
    'missing join': { text: 'host == "a" path == "/"', message: /join conditions with && or \|\|/, column: 13 },
    'header without name': { text: 'header == "a"', message: /header needs a name/, column: 8 },
    'unbalanced parenthesis': { text: '(host == "a"', message: /expected "\)"/, column: 13 },
    'prefix without value': { text: 'path.prefix()', message: /prefix\(\) needs a value/, column: 6 },
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
      const se = err as ConditionSyntaxError;
      expect(se.message).toMatch(tc.message);
      expect(se.column).toBe(tc.column);
    });
  }
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
