import { describe, expect, it } from 'vitest';
import { diffLines, MAX_LCS_CELLS } from './diff';

describe('diffLines', () => {
  it('pairs a changed line and keeps the common ones', () => {
    const rows = diffLines('a\nb\nc', 'a\nB\nc\nd');
    expect(rows).toEqual([
      { kind: 'same', left: { n: 1, text: 'a' }, right: { n: 1, text: 'a' } },
      { kind: 'change', left: { n: 2, text: 'b' }, right: { n: 2, text: 'B' } },
      { kind: 'same', left: { n: 3, text: 'c' }, right: { n: 3, text: 'c' } },
      { kind: 'add', right: { n: 4, text: 'd' } },
    ]);
  });
  it('shows a new text as all added and a removed one as all deleted', () => {
    expect(diffLines('', 'x\ny').map((r) => r.kind)).toEqual(['add', 'add']);
    expect(diffLines('x\ny', '').map((r) => r.kind)).toEqual(['del', 'del']);
  });
  it('has only same rows for equal texts', () => {
    expect(diffLines('p\nq', 'p\nq').every((r) => r.kind === 'same')).toBe(true);
  });
});

describe('diffLines on large texts', () => {
  const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag} ${i}`).join('\n');

  it('keeps the common head and tail and diffs only the middle', () => {
    const before = `${lines(3000, 'same')}\nold\n${lines(3000, 'end')}`;
    const after = `${lines(3000, 'same')}\nnew\n${lines(3000, 'end')}`;
    const rows = diffLines(before, after);
    expect(rows).toHaveLength(6001);
    expect(rows.filter((r) => r.kind !== 'same')).toEqual([{ kind: 'change', left: { n: 3001, text: 'old' }, right: { n: 3001, text: 'new' } }]);
  });

  it('shows a middle past the table limit as removed and added whole', () => {
    const before = lines(3000, 'old');
    const after = lines(3000, 'new');
    expect(3000 * 3000).toBeGreaterThan(MAX_LCS_CELLS);
    const rows = diffLines(before, after);
    expect(rows).toHaveLength(3000);
    expect(rows.every((r) => r.kind === 'change')).toBe(true);
    expect(rows[2999]).toEqual({ kind: 'change', left: { n: 3000, text: 'old 2999' }, right: { n: 3000, text: 'new 2999' } });
  });
});
