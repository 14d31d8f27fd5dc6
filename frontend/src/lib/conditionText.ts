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

// Groups with a single member have no text of their own.
function unwrap(c: Condition): Condition {
  for (;;) {
    if (c.all && c.all.length === 1 && !c.any) c = c.all[0];
    else if (c.any && c.any.length === 1 && !c.all) c = c.any[0];
    else return c;
  }
}

function printOr(c: Condition): string {
  c = unwrap(c);
  if (c.any && c.any.length > 0) return c.any.map(printAnd).join(' || ');
  return printAnd(c);
}

function printAnd(c: Condition): string {
  c = unwrap(c);
  if (c.all && c.all.length > 0) return c.all.map(printUnary).join(' && ');
  return printUnary(c);
}

function printUnary(c: Condition): string {
  c = unwrap(c);
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

/**
 * Writes s as a JSON string literal exactly as backend/rules.Quote does: only
 * quote, backslash and control characters are escaped; everything else,
 * non-ASCII included, is written as is.
 */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20) out += '\\u00' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd'; // a lone surrogate is not valid UTF-8
    else out += ch;
  }
  return out + '"';
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
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
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
        throw syntaxError(src, start, `invalid string ${text}: use JSON escapes (\\" \\\\ \\n \\t \\uXXXX)`);
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
    if (src.startsWith('=~', i)) throw syntaxError(src, i, '=~ is not part of the language: use .regex("...")');
    const p = PUNCT.find((p) => src.startsWith(p, i));
    if (!p) throw syntaxError(src, i, `unexpected character '${String.fromCodePoint(src.codePointAt(i)!)}'`);
    toks.push({ kind: 'punct', text: p, offset: i });
    i += p.length;
  }
  toks.push({ kind: 'eof', text: '', offset: src.length });
  return toks;
}

function syntaxError(src: string, offset: number, message: string): ConditionSyntaxError {
  // Columns count characters (code points), as the server's do.
  const before = src.slice(0, offset);
  const line = before.split('\n').length;
  const column = [...before.slice(before.lastIndexOf('\n') + 1)].length + 1;
  return new ConditionSyntaxError(message, offset, line, column);
}

// ---------------------------------------------------------------- parser

/** Nesting bound, as on the server, so hostile input cannot exhaust the stack. */
const MAX_DEPTH = 200;

/**
 * Parses condition-language text into a tree. Throws ConditionSyntaxError
 * with the position of the first problem; messages are those of the server.
 */
export function parseCondition(src: string): Condition {
  const toks = lex(src);
  let pos = 0;
  let depth = 0;
  const peek = (n = 0) => toks[Math.min(pos + n, toks.length - 1)];
  const next = () => {
    const t = toks[pos];
    if (t.kind !== 'eof') pos++;
    return t;
  };
  const fail = (t: Token, msg: string): never => {
    throw syntaxError(src, t.offset, msg);
  };
  const describe = (t: Token) => (t.kind === 'eof' ? 'end of text' : JSON.stringify(t.text));
  const isPunct = (t: Token, p: string) => t.kind === 'punct' && t.text === p;
  const isIdent = (t: Token, s: string) => t.kind === 'ident' && t.text === s;
  const expectPunct = (p: string, after: string) => {
    const t = next();
    if (!isPunct(t, p)) fail(t, `expected "${p}" ${after}, found ${describe(t)}`);
  };
  const expectString = (what: string): string => {
    const t = next();
    if (t.kind !== 'string') fail(t, `expected ${what}, found ${describe(t)}`);
    return t.value ?? '';
  };
  const position = (t: Token) => {
    const e = syntaxError(src, t.offset, '');
    return `${e.line}:${e.column}`;
  };

  const parseList = (): string[] => {
    expectPunct('[', 'to start a list');
    const out: string[] = [];
    if (isPunct(peek(), ']')) {
      next();
      return out;
    }
    for (;;) {
      out.push(expectString('a quoted string in the list'));
      const t = next();
      if (isPunct(t, ']')) return out;
      if (!isPunct(t, ',')) fail(t, `expected "," or "]" in the list, found ${describe(t)}`);
    }
  };

  const parseField = (): string => {
    const t = next();
    if (t.kind !== 'ident') {
      fail(t, `expected a field (host, path, method, scheme, header["..."], query["..."], cookie["..."], grpc), found ${describe(t)}`);
    }
    const name = t.text;
    if ((KEYED_FIELDS as readonly string[]).includes(name)) {
      if (!isPunct(peek(), '[')) fail(peek(), `${name} needs a name: ${name}["..."]`);
      next();
      const keyTok = peek();
      const key = expectString(`the ${name} name (a quoted string)`);
      if (key === '') fail(keyTok, `${name} name must not be empty`);
      expectPunct(']', `after the ${name} name`);
      return `${name}[${key}]`;
    }
    if (name === 'grpc') {
      const sub = peek(1);
      if (isPunct(peek(), '.') && (isIdent(sub, 'service') || isIdent(sub, 'method')) && !isPunct(peek(2), '(')) {
        next();
        next();
        return `grpc.${sub.text}`;
      }
      return name;
    }
    if (!(PLAIN_FIELDS as readonly string[]).includes(name)) {
      fail(t, `unknown field ${JSON.stringify(name)}: expected host, path, method, scheme, header, query, cookie, grpc, grpc.service or grpc.method`);
    }
    return name;
  };

  const parsePredicate = (): Condition => {
    const field = parseField();
    const t = next();
    if (isPunct(t, '==') || isPunct(t, '!=')) {
      return { field, op: t.text === '==' ? 'equals' : 'not-equals', value: expectString(`a quoted string after ${t.text}`) };
    }
    if (isIdent(t, 'in')) return { field, op: 'in', values: parseList() };
    if (isIdent(t, 'not')) {
      const u = next();
      if (!isIdent(u, 'in')) fail(u, `expected "in" after "not", found ${describe(u)}`);
      return { field, op: 'not-in', values: parseList() };
    }
    if (!isPunct(t, '.')) fail(t, `expected an operator after ${field} (==, !=, in, not in, .prefix(...), .regex(...), ...), found ${describe(t)}`);
    const m = next();
    const op = m.kind === 'ident' && Object.hasOwn(METHOD_OPS, m.text) ? METHOD_OPS[m.text] : undefined;
    if (!op) {
      fail(m, `unknown operator ${describe(m)}: expected one of equals, notEquals, prefix, suffix, contains, regex, exact, segmentPrefix, template, in, notIn, present, absent`);
    }
    const c: Condition = { field, op };
    expectPunct('(', `after .${m.text}`);
    const list = isListOp(op);
    const nullary = isNullaryOp(op);
    let sawValue = false;
    for (let first = true; !isPunct(peek(), ')'); first = false) {
      if (!first) expectPunct(',', 'between arguments');
      const a = peek();
      if (isIdent(a, 'ignoreCase') && !c.ignoreCase) {
        next();
        c.ignoreCase = true;
      } else if (list && !sawValue) {
        c.values = parseList();
        sawValue = true;
      } else if (!list && !nullary && !sawValue) {
        c.value = expectString(`a quoted string argument to .${m.text}()`);
        sawValue = true;
      } else {
        fail(a, `unexpected argument ${describe(a)} to .${m.text}()`);
      }
    }
    next();
    if (!sawValue && !nullary) fail(m, `.${m.text}() needs ${list ? 'a list' : 'a quoted string'}`);
    return c;
  };

  const parseUnary = (): Condition => {
    const t = peek();
    if (isPunct(t, '!') || isPunct(t, '(')) {
      if (depth + 1 > MAX_DEPTH) fail(t, `condition nested too deeply (more than ${MAX_DEPTH} levels)`);
      depth++;
      try {
        next();
        if (t.text === '!') return { not: parseUnary() };
        const inner = parseOr();
        expectPunct(')', `to close the group opened at ${position(t)}`);
        return inner;
      } finally {
        depth--;
      }
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
  if (rest.kind !== 'eof') fail(rest, `unexpected ${describe(rest)}: join conditions with && or ||`);
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
