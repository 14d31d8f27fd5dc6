import { describe, expect, it } from 'vitest';
import { lineEdits, parseUnified, sideBySide } from './diff';

describe('lineEdits', () => {
  it('finds a shortest script with deletions first', () => {
    const e = lineEdits(['a', 'b', 'c'], ['a', 'x', 'c', 'd']);
    expect(e.map((x) => x.op + x.text)).toEqual([' a', '-b', '+x', ' c', '+d']);
  });
  it('applies: keeping " " and "+" lines gives the new text', () => {
    const a = 'name: r\npriority: 1\nthen:\n  forward: web\n'.split('\n');
    const b = 'name: r\npriority: 5\nthen:\n  forward: web-v2\n  timeout: 5s\n'.split('\n');
    const e = lineEdits(a, b);
    expect(e.filter((x) => x.op !== '-').map((x) => x.text)).toEqual(b);
    expect(e.filter((x) => x.op !== '+').map((x) => x.text)).toEqual(a);
  });
});

describe('sideBySide', () => {
  it('pairs changed lines and numbers both sides', () => {
    expect(sideBySide('a\nb\nc\n', 'a\nB\nc\nd\n')).toEqual([
      { kind: 'same', left: { n: 1, text: 'a' }, right: { n: 1, text: 'a' } },
      { kind: 'change', left: { n: 2, text: 'b' }, right: { n: 2, text: 'B' } },
      { kind: 'same', left: { n: 3, text: 'c' }, right: { n: 3, text: 'c' } },
      { kind: 'add', left: undefined, right: { n: 4, text: 'd' } },
    ]);
  });
  it('shows a created object as all additions', () => {
    expect(sideBySide('', 'x\n').map((r) => r.kind)).toEqual(['add']);
  });
});

describe('parseUnified', () => {
  it('reads hunks with their line numbers', () => {
    const diff = ['--- route/a (v1)', '+++ route/a (v2)', '@@ -3,3 +3,4 @@', ' then:', '-  timeout: 1s', '+  timeout: 5s', '+  websocket: true', ' ', '\\ No newline at end of file', ''].join('\n');
    expect(parseUnified(diff)).toEqual([
      { kind: 'hunk', left: { n: 0, text: '@@ -3,3 +3,4 @@' }, right: { n: 0, text: '@@ -3,3 +3,4 @@' } },
      { kind: 'same', left: { n: 3, text: 'then:' }, right: { n: 3, text: 'then:' } },
      { kind: 'change', left: { n: 4, text: '  timeout: 1s' }, right: { n: 4, text: '  timeout: 5s' } },
      { kind: 'add', left: undefined, right: { n: 5, text: '  websocket: true' } },
      { kind: 'same', left: { n: 5, text: '' }, right: { n: 6, text: '' } },
    ]);
  });
});
