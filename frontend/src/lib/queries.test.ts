import { describe, expect, it } from 'vitest';
import { getAll } from './queries';

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
