import { describe, expect, it } from 'vitest';
import { addPage, endpointsRefetchInterval, getAll, lintIndex, lintKey, pages, witnessText, type GrowingList } from './queries';

describe('getAll', () => {
  it('fetches every page of a long list', async () => {
    const all = Array.from({ length: 2500 }, (_, i) => i);
    const asked: string[] = [];
    const fetchPage = async (p: string) => {
      asked.push(p);
      const q = new URLSearchParams(p.split('?')[1]);
      const off = Number(q.get('offset'));
      return { items: all.slice(off, off + Number(q.get('limit'))), total: all.length };
    };
    const got = await getAll<number>('/routes?gateway=public', fetchPage);
    expect(got.items).toEqual(all);
    expect(asked).toEqual([
      '/routes?gateway=public&limit=1000&offset=0',
      '/routes?gateway=public&limit=1000&offset=1000',
      '/routes?gateway=public&limit=1000&offset=2000',
    ]);
  });

  it('stops after one page when the server sends no total', async () => {
    const got = await getAll<number>('/gateways', async () => ({ items: [1, 2] }));
    expect(got).toEqual({ items: [1, 2], total: 2 });
  });
});

describe('pages', () => {
  it('follows the cursors of a list without a total', async () => {
    const all = [1, 2, 3, 4, 5];
    const asked: string[] = [];
    const fetchPage = async (p: string) => {
      asked.push(p);
      const q = new URL(p, 'http://x').searchParams;
      const off = Number(q.get('cursor') ?? 0);
      const items = all.slice(off, off + 2);
      return { items, limit: 2, next: off + 2 < all.length ? String(off + 2) : undefined };
    };
    const got = await getAll<number>('/audit', fetchPage);
    expect(got).toEqual({ items: all, total: 5 });
    expect(asked).toEqual(['/audit?limit=1000&offset=0', '/audit?limit=1000&cursor=2', '/audit?limit=1000&cursor=4']);
  });

  it('steps by the page size the server applied', async () => {
    const all = Array.from({ length: 7 }, (_, i) => i);
    const asked: string[] = [];
    const fetchPage = async (p: string) => {
      asked.push(p);
      const q = new URL(p, 'http://x').searchParams;
      const off = Number(q.get('offset'));
      const limit = Math.min(Number(q.get('limit')), 3);
      return { items: all.slice(off, off + limit), total: all.length, limit };
    };
    expect(await getAll<number>('/routes', fetchPage)).toEqual({ items: all, total: 7 });
    expect(asked).toEqual(['/routes?limit=1000&offset=0', '/routes?limit=3&offset=3', '/routes?limit=3&offset=6']);
  });

  it('yields pages in list order even when a later page answers first', async () => {
    const all = Array.from({ length: 3000 }, (_, i) => i);
    const fetchPage = async (p: string) => {
      const off = Number(new URLSearchParams(p.split('?')[1]).get('offset'));
      // The last page answers at once, the middle one late.
      await new Promise((r) => setTimeout(r, off === 1000 ? 30 : 0));
      return { items: all.slice(off, off + 1000), total: all.length };
    };
    const got: number[][] = [];
    for await (const page of pages<number>('/routes', fetchPage)) got.push([page.items[0], page.items.length, page.total ?? -1]);
    expect(got).toEqual([
      [0, 1000, 3000],
      [1000, 1000, 3000],
      [2000, 1000, 3000],
    ]);
  });

  it('a growing list is complete with its last page', () => {
    let acc: GrowingList<number> = { items: [], total: 0, complete: false };
    acc = addPage(acc, { items: [1, 2], total: 4 });
    expect(acc).toEqual({ items: [1, 2], total: 4, complete: false });
    acc = addPage(acc, { items: [3, 4], total: 4 });
    expect(acc).toEqual({ items: [1, 2, 3, 4], total: 4, complete: true });
    expect(addPage({ items: [], total: 0, complete: false }, { items: [] })).toEqual({ items: [], total: 0, complete: true });
  });
});

describe('lintIndex', () => {
  const f = (rule: string, shadowedBy: string) => ({ rule, shadowedBy, message: `never matches: rule "${shadowedBy}" before it` });
  it('keys findings by gateway and rule, so equal names on two gateways stay apart', () => {
    const idx = lintIndex([
      { gateway: 'public', items: [f('api-copy', 'api')] },
      { gateway: 'internal', items: [f('api', 'all')] },
      { gateway: 'loading' },
    ]);
    expect(idx.size).toBe(2);
    expect(idx.get(lintKey('public', 'api-copy'))?.shadowedBy).toBe('api');
    expect(idx.get(lintKey('internal', 'api'))?.shadowedBy).toBe('all');
    expect(idx.get(lintKey('public', 'api'))).toBeUndefined();
  });
  it('does not confuse a gateway/rule split at a different place', () => {
    expect(lintKey('a', 'b-c')).not.toBe(lintKey('a-b', 'c'));
  });
});

describe('endpointsRefetchInterval', () => {
  const tests: Record<string, { data: Parameters<typeof endpointsRefetchInterval>[0]; fast: boolean }> = {
    'nothing loaded yet': { data: undefined, fast: true },
    'source answering': { data: { items: [], reported: true }, fast: false },
    'stale endpoints': { data: { items: [], reported: true, stale: true, error: 'connection refused' }, fast: true },
    'source failing with nothing known': { data: { items: [], reported: true, error: 'connection refused' }, fast: true },
    'source not reported yet': { data: { items: [], reported: false }, fast: true },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => {
      const ms = endpointsRefetchInterval(tc.data);
      // Fast enough that a recovery shows within a couple of seconds;
      // never more than a few seconds, so an outage shows soon.
      expect(ms <= 2_000).toBe(tc.fast);
      expect(ms).toBeGreaterThanOrEqual(1_000);
      expect(ms).toBeLessThanOrEqual(5_000);
    });
  }
});

describe('lint findings with kinds', () => {
  it('marks only the rules that never match', () => {
    const idx = lintIndex([
      {
        gateway: 'g',
        items: [
          { rule: 'old', shadowedBy: 'a', message: 'm' },
          { rule: 'b', kind: 'shadowed', shadowedBy: 'a', message: 'm' },
          { rule: 'c', kind: 'rewrite-slash', shadowedBy: '', message: 'doubles the slash' },
        ],
      },
    ]);
    expect([...idx.keys()].sort()).toEqual([lintKey('g', 'b'), lintKey('g', 'old')]);
  });
  it('writes a witness request on one line', () => {
    expect(witnessText({ method: 'GET', url: 'http://shop.example.com/x' })).toBe('GET http://shop.example.com/x');
    expect(witnessText({ method: 'POST', url: 'http://a/', headers: { 'x-canary': '1', cookie: 'a=b' } })).toBe('POST http://a/ with x-canary: 1, cookie: a=b');
  });
});
