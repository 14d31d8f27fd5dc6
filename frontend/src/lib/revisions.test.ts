import { describe, expect, it } from 'vitest';
import type { Revision } from './model';
import { changesSince } from './revisions';

const rev = (id: number, name: string, at: string, action = 'update'): Revision => ({ id, at, actor: 'ann', kind: 'Route', name, action, version: id, diff: '' });

describe('changesSince', () => {
  const revs = [
    rev(1, 'web', '2026-01-01T10:00:00Z', 'create'),
    rev(2, 'api', '2026-01-01T11:00:00Z', 'create'),
    rev(3, 'web', '2026-01-01T12:00:00Z'),
    rev(4, 'web', '2026-01-01T13:00:00Z'),
    rev(5, 'old', '2026-01-01T14:00:00Z', 'delete'),
  ];
  it('keeps the newest change per object after the live version, newest first', () => {
    expect(changesSince(revs, '2026-01-01T11:30:00Z').map((r) => r.id)).toEqual([5, 4]);
  });
  it('takes everything when nothing is live', () => {
    expect(changesSince(revs, undefined).map((r) => r.id)).toEqual([5, 4, 2]);
  });
  it('is empty when nothing changed after the publish', () => {
    expect(changesSince(revs, '2026-01-02T00:00:00Z')).toEqual([]);
  });
});
