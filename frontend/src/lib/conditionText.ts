// The condition language: text <-> tree. This module is the browser's copy
// of the printer and parser in backend/rules and must accept and print
// exactly the same syntax, so that the builder and the text editor can be
// swapped freely and the server reads back what the UI wrote.
//
//   host == "shop.example.com" && path.prefix("/static") && method in ["GET", "HEAD"]
//   !(header["x-canary"].present()) || query["v"] != "2"
//   host.equals("Shop.Example.com", ignoreCase)
//
// Grammar (|| binds looser than &&; parentheses make a group of their own):
//
//   expr      = and { "||" and }
//   and       = unary { "&&" unary }
//   unary     = "!" unary | "(" expr ")" | predicate
//   predicate = field ( "==" str | "!=" str | "in" list | "not" "in" list
//                     | "." method "(" [ arg { "," arg } ] ")" )
//   field     = host | path | method | scheme | grpc | grpc.service | grpc.method
//             | (header | query | cookie) "[" str "]"
//   method    = equals | notEquals | prefix | suffix | contains | regex | exact
//             | segmentPrefix | template | in | notIn | present | absent
//   arg       = str | list | "ignoreCase"
//   list      = "[" [ str { "," str } ] "]"
//   str       = a JSON string literal
//
// The empty text is the empty condition, which matches every request.

import type { Condition } from './model';

/** Fields without a key, in the order the builder offers them. */
export const PLAIN_FIELDS = ['host', 'path', 'method', 'scheme', 'grpc', 'grpc.service', 'grpc.method'] as const;
/** Fields written kind[key]. */
export const KEYED_FIELDS = ['header', 'query', 'cookie'] as const;

/** Operators, with the method name each has in the text form. */
export const OP_METHODS: Record<string, string> = {
  equals: 'equals',
  'not-equals': 'notEquals',
  prefix: 'prefix',
  suffix: 'suffix',
  contains: 'contains',
  regex: 'regex',
  present: 'present',
  absent: 'absent',
  in: 'in',
  'not-in': 'notIn',
  exact: 'exact',
  'segment-prefix': 'segmentPrefix',
  template: 'template',
};
const METHOD_OPS: Record<string, string> = Object.fromEntries(Object.entries(OP_METHODS).map(([op, m]) => [m, op]));

/** Operators that take a list of values rather than one value. */
export function isListOp(op: string | undefined): boolean {
  return op === 'in' || op === 'not-in';
}

/** Operators that take no value at all. */
export function isNullaryOp(op: string | undefined): boolean {
  return op === 'present' || op === 'absent';
}

/** A syntax error, with where it is so an editor can underline it. */
export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${line}:${column}: ${message}`);
    this.name = 'ConditionSyntaxError';
  }
}

// ---------------------------------------------------------------- printer

/** Prints a condition tree as condition-language text. */
export function formatCondition(c: Condition | undefined): string {
  if (!c || isEmpty(c)) return '';
  return printOr(c);
}

function isEmpty(c: Condition): boolean {
  return !c.all && !c.any && !c.not && !c.field && !c.op;
}

function printOr(c: Condition): string {
  if (c.any && c.any.length > 0) return c.any.map(printAnd).join(' || ');
  return printAnd(c);
}

function printAnd(c: Condition): string {
  if (c.all && c.all.length > 0) return c.all.map(printUnary).join(' && ');
  return printUnary(c);
}

function printUnary(c: Condition): string {
  if (c.not) return '!' + parenthesise(c.not);
  if ((c.all && c.all.length > 0) || (c.any && c.any.length > 0)) return '(' + printOr(c) + ')';
  if (isEmpty(c) || (c.all && c.all.length === 0) || (c.any && c.any.length === 0)) {
    // An empty group has no text of its own; it never comes from the
    // builder, which drops empty groups before printing.
    return 'true';
  }
  return printPredicate(c);
}

// Negation always wraps its operand so "!" never reads as applying to a
// field alone.
function parenthesise(c: Condition): string {
  return '(' + printOr(c) + ')';
}

function printPredicate(c: Condition): string {
  const field = printField(c.field ?? '');
  const op = c.op ?? '';
  const ic = c.ignoreCase ? ', ignoreCase' : '';
  if (!c.ignoreCase) {
    switch (op) {
      case 'equals':
        return `${field} == ${quote(c.value ?? '')}`;
      case 'not-equals':
        return `${field} != ${quote(c.value ?? '')}`;
      case 'in':
        return `${field} in ${printList(c.values ?? [])}`;
      case 'not-in':
        return `${field} not in ${printList(c.values ?? [])}`;
    }
  }
  const method = OP_METHODS[op] ?? op;
  if (isNullaryOp(op)) return `${field}.${method}(${c.ignoreCase ? 'ignoreCase' : ''})`;
  if (isListOp(op)) return `${field}.${method}(${printList(c.values ?? [])}${ic})`;
  return `${field}.${method}(${quote(c.value ?? '')}${ic})`;
}

function printField(f: string): string {
  const i = f.indexOf('[');
  if (i > 0 && f.endsWith(']')) return `${f.slice(0, i)}[${quote(f.slice(i + 1, -1))}]`;
  return f;
}

function printList(values: string[]): string {
  return '[' + values.map(quote).join(', ') + ']';
}

function quote(s: string): string {
  return JSON.stringify(s);
}

// ---------------------------------------------------------------- lexer

type TokKind = 'ident' | 'string' | 'punct' | 'eof';

interface Token {
  kind: TokKind;
  text: string;
  /** Decoded value of a string literal. */
  value?: string;
  offset: number;
}

const PUNCT = ['&&', '||', '==', '!=', '!', '(', ')', '[', ']', ',', '.'];

function lex(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"') {
      const start = i;
      i++;
      let closed = false;
      while (i < src.length) {
        if (src[i] === '\\') {
          i += 2;
          continue;
        }
        if (src[i] === '"') {
          closed = true;
          i++;
          break;
        }
        if (src[i] === '\n') break;
        i++;
      }
      if (!closed) throw syntaxError(src, start, 'unterminated string');
      const text = src.slice(start, i);
      let value: string;
      try {
        value = JSON.parse(text) as string;
      } catch {
        throw syntaxError(src, start, `invalid string ${text}`);
      }
      toks.push({ kind: 'string', text, value, offset: start });
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const start = i;
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i])) i++;
      toks.push({ kind: 'ident', text: src.slice(start, i), offset: start });
      continue;
    }
    const p = PUNCT.find((p) => src.startsWith(p, i));
    if (!p) throw syntaxError(src, i, `unexpected character ${JSON.stringify(ch)}`);
    toks.push({ kind: 'punct', text: p, offset: i });
    i += p.length;
  }
  toks.push({ kind: 'eof', text: '', offset: src.length });
  return toks;
}

function syntaxError(src: string, offset: number, message: string): ConditionSyntaxError {
  const before = src.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return new ConditionSyntaxError(message, offset, line, column);
}

// ---------------------------------------------------------------- parser

/**
 * Parses condition-language text into a tree. Throws ConditionSyntaxError
 * with the position of the first problem.
 */
export function parseCondition(src: string): Condition {
  const toks = lex(src);
  let pos = 0;
  const peek = () => toks[pos];
  const next = () => toks[pos++];
  const fail = (t: Token, msg: string): never => {
    throw syntaxError(src, t.offset, msg);
  };
  const describe = (t: Token) => (t.kind === 'eof' ? 'end of text' : JSON.stringify(t.text));
  const isPunct = (t: Token, p: string) => t.kind === 'punct' && t.text === p;
  const expectPunct = (p: string) => {
    const t = next();
    if (!isPunct(t, p)) fail(t, `expected "${p}", found ${describe(t)}`);
  };
  const expectString = (what: string): string => {
    const t = next();
    if (t.kind !== 'string') fail(t, `expected ${what} (a quoted string), found ${describe(t)}`);
    return t.value ?? '';
  };

  const parseList = (): string[] => {
    expectPunct('[');
    const out: string[] = [];
    if (isPunct(peek(), ']')) {
      next();
      return out;
    }
    for (;;) {
      out.push(expectString('a list element'));
      const t = next();
      if (isPunct(t, ']')) return out;
      if (!isPunct(t, ',')) fail(t, `expected "," or "]", found ${describe(t)}`);
    }
  };

  const parseField = (): string => {
    const t = next();
    if (t.kind !== 'ident') fail(t, `expected a field, found ${describe(t)}`);
    const name = t.text;
    if ((KEYED_FIELDS as readonly string[]).includes(name)) {
      if (!isPunct(peek(), '[')) fail(peek(), `${name} needs a name: ${name}["..."]`);
      next();
      const key = expectString(`the ${name} name`);
      if (key === '') fail(t, `${name} name must not be empty`);
      expectPunct(']');
      return `${name}[${key}]`;
    }
    if (name === 'grpc' && isPunct(peek(), '.')) {
      const sub = toks[pos + 1];
      if (sub.kind === 'ident' && (sub.text === 'service' || sub.text === 'method') && !isPunct(toks[pos + 2], '(')) {
        pos += 2;
        return `grpc.${sub.text}`;
      }
    }
    if (!(PLAIN_FIELDS as readonly string[]).includes(name)) {
      fail(t, `unknown field ${JSON.stringify(name)}; expected one of ${[...PLAIN_FIELDS, ...KEYED_FIELDS].join(', ')}`);
    }
    return name;
  };

  const parsePredicate = (): Condition => {
    const field = parseField();
    const t = next();
    if (isPunct(t, '==')) return { field, op: 'equals', value: expectString('a value') };
    if (isPunct(t, '!=')) return { field, op: 'not-equals', value: expectString('a value') };
    if (t.kind === 'ident' && t.text === 'in') return { field, op: 'in', values: parseList() };
    if (t.kind === 'ident' && t.text === 'not') {
      const u = next();
      if (!(u.kind === 'ident' && u.text === 'in')) fail(u, `expected "in" after "not", found ${describe(u)}`);
      return { field, op: 'not-in', values: parseList() };
    }
    if (!isPunct(t, '.')) fail(t, `expected an operator (==, !=, in, not in, .prefix(...), ...) after ${field}, found ${describe(t)}`);
    const m = next();
    const op = m.kind === 'ident' ? METHOD_OPS[m.text] : undefined;
    if (!op) fail(m, `unknown operator ${describe(m)}; expected one of ${Object.values(OP_METHODS).join(', ')}`);
    expectPunct('(');
    const c: Condition = { field, op };
    let sawValue = false;
    let first = true;
    while (!isPunct(peek(), ')')) {
      if (!first) expectPunct(',');
      first = false;
      const a = peek();
      if (a.kind === 'ident' && a.text === 'ignoreCase') {
        next();
        c.ignoreCase = true;
      } else if (isListOp(op) && !sawValue) {
        c.values = parseList();
        sawValue = true;
      } else if (!isNullaryOp(op) && !isListOp(op) && !sawValue) {
        c.value = expectString('a value');
        sawValue = true;
      } else {
        fail(a, `unexpected argument ${describe(a)} to ${m.text}()`);
      }
    }
    next();
    if (!sawValue && !isNullaryOp(op!)) fail(m, `${m.text}() needs ${isListOp(op) ? 'a list' : 'a value'}`);
    return c;
  };

  const parseUnary = (): Condition => {
    const t = peek();
    if (isPunct(t, '!')) {
      next();
      return { not: parseUnary() };
    }
    if (isPunct(t, '(')) {
      next();
      const inner = parseOr();
      expectPunct(')');
      return inner;
    }
    return parsePredicate();
  };

  const parseAnd = (): Condition => {
    const first = parseUnary();
    if (!isPunct(peek(), '&&')) return first;
    const all = [first];
    while (isPunct(peek(), '&&')) {
      next();
      all.push(parseUnary());
    }
    return { all };
  };

  function parseOr(): Condition {
    const first = parseAnd();
    if (!isPunct(peek(), '||')) return first;
    const any = [first];
    while (isPunct(peek(), '||')) {
      next();
      any.push(parseAnd());
    }
    return { any };
  }

  if (peek().kind === 'eof') return {};
  const tree = parseOr();
  const rest = peek();
  if (rest.kind !== 'eof') fail(rest, `unexpected ${describe(rest)}; join conditions with && or ||`);
  return tree;
}

/** Parses text, returning the error instead of throwing. */
export function tryParseCondition(src: string): { tree: Condition } | { error: ConditionSyntaxError } {
  try {
    return { tree: parseCondition(src) };
  } catch (e) {
    if (e instanceof ConditionSyntaxError) return { error: e };
    throw e;
  }
}

/**
 * Brings a tree to the shape the printer and parser agree on: groups with a
 * single member collapse into that member and empty groups disappear. The
 * builder normalises before printing so text and tree stay interchangeable.
 */
export function normalizeCondition(c: Condition): Condition {
  if (c.not) {
    const inner = normalizeCondition(c.not);
    return isEmpty(inner) ? {} : { not: inner };
  }
  for (const key of ['all', 'any'] as const) {
    const list = c[key];
    if (list) {
      const kids = list.map(normalizeCondition).filter((k) => !isEmpty(k));
      if (kids.length === 0) return {};
      if (kids.length === 1) return kids[0];
      return { [key]: kids };
    }
  }
  if (isEmpty(c)) return {};
  const out: Condition = { field: c.field, op: c.op };
  if (isListOp(c.op)) out.values = [...(c.values ?? [])];
  else if (!isNullaryOp(c.op)) out.value = c.value ?? '';
  if (c.ignoreCase) out.ignoreCase = true;
  return out;
}
