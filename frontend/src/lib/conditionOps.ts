// Which operators the condition builder offers for each field, and what a
// row becomes when its field changes.

import type { Condition } from './model';

const STRING_OPS = ['equals', 'not-equals', 'prefix', 'suffix', 'contains', 'regex', 'in', 'not-in'];
// A method or scheme is one word from a short list: equality and lists
// say what is meant; "starts with" on a method is almost always a mistake
// carried over from a path row.
const WORD_OPS = ['equals', 'not-equals', 'in', 'not-in', 'regex'];

/** Operators that make sense for a field kind (the server has the final word). */
export function opsFor(kind: string): string[] {
  switch (kind) {
    case 'path':
      return ['prefix', 'exact', 'segment-prefix', 'template', ...STRING_OPS.filter((o) => o !== 'prefix')];
    case 'header':
    case 'query':
    case 'cookie':
      return [...STRING_OPS, 'present', 'absent'];
    case 'grpc':
      return ['present', 'absent'];
    case 'method':
    case 'scheme':
      return WORD_OPS;
    default:
      return STRING_OPS;
  }
}

// The operator a row starts with when its field becomes this kind.
const DEFAULT_OP: Record<string, string> = { path: 'prefix', grpc: 'present' };

/**
 * The row after its field changed from one kind to another. An operator
 * the new field does not offer is replaced by the field's usual one, and
 * the value, written for the old field ("/" for a path), is cleared.
 */
export function retargetRow(node: Condition, field: string, fromKind: string, toKind: string): Condition {
  if (fromKind === toKind) return { ...node, field };
  const ops = opsFor(toKind);
  const op = node.op && ops.includes(node.op) ? node.op : (DEFAULT_OP[toKind] ?? ops[0]);
  const next: Condition = { ...node, field, op };
  delete next.value;
  delete next.values;
  return next;
}
