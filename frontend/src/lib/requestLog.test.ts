import { describe, expect, it } from 'vitest';
import { filtersFromSearch, logQuery, matchesFilters, mergeRows, noFilters, statusColor, trafficSummary, versionLabel, type LogEntry } from './requestLog';

const entry = (id: number, over: Partial<LogEntry> = {}): LogEntry =>
  ({ id, time: '2026-12-07T19:00:00Z', status: 200, rule: 'api', host: 'shop.example.com', path: '/api/x', method: 'GET', version: '3', ...over }) as LogEntry;

describe('logQuery', () => {
  const now = Date.parse('2026-12-07T20:00:00Z');
  it('sends only the filters set, trimmed', () => {
    expect(logQuery({ ...noFilters, rule: ' api ', host: '', status: '5xx' }, now).toString()).toBe('rule=api&status=5xx');
  });
  it('fixes the window to a start time, so every page covers the same span', () => {
    expect(logQuery({ ...noFilters, window: '15m' }, now).get('since')).toBe('2026-12-07T19:45:00.000Z');
    expect(logQuery({ ...noFilters, window: '' }, now).has('since')).toBe(false);
  });
  it('follows without a window (the stream starts now)', () => {
    expect(logQuery({ ...noFilters, window: '1h', path: '/api' }, now, true).toString()).toBe('path=%2Fapi&follow=true');
  });
});

describe('filtersFromSearch', () => {
  it('reads a link, with the last hour by default', () => {
    expect(filtersFromSearch(new URLSearchParams('rule=api&status=404'))).toEqual({ rule: 'api', status: '404', host: '', path: '', window: '1h' });
  });
  it('refuses a window it does not offer', () => {
    expect(filtersFromSearch(new URLSearchParams('window=3d')).window).toBe('1h');
    expect(filtersFromSearch(new URLSearchParams('window=')).window).toBe('');
  });
});

describe('matchesFilters', () => {
  const tests: Record<string, { f: Partial<typeof noFilters>; e: Partial<LogEntry>; want: boolean }> = {
    'no filters': { f: {}, e: {}, want: true },
    'rule differs': { f: { rule: 'web' }, e: {}, want: false },
    'status class': { f: { status: '5xx' }, e: { status: 503 }, want: true },
    'status class differs': { f: { status: '5xx' }, e: { status: 404 }, want: false },
    'exact status': { f: { status: '404' }, e: { status: 404 }, want: true },
    'status range': { f: { status: '500-504' }, e: { status: 505 }, want: false },
    'host case-insensitive': { f: { host: 'SHOP.example.com' }, e: {}, want: true },
    'path prefix': { f: { path: '/api/' }, e: { path: '/apix' }, want: false },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => expect(matchesFilters(entry(1, tc.e), { ...noFilters, ...tc.f })).toBe(tc.want));
  }
});

describe('mergeRows', () => {
  it('puts live entries above the listing, each once', () => {
    const listed = [entry(5), entry(4)];
    const live = [entry(7), entry(6), entry(5)];
    expect(mergeRows(live, listed).map((e) => e.id)).toEqual([7, 6, 5, 4]);
  });
  it('keeps a slow request that is both listed and streamed where the listing has it', () => {
    // 9 started before 5 but was stored after it: listed lower, streamed too.
    const listed = [entry(5), entry(9), entry(4)];
    expect(mergeRows([entry(10), entry(9)], listed).map((e) => e.id)).toEqual([10, 5, 9, 4]);
  });
  it('keeps at most max rows, the newest', () => {
    expect(mergeRows([entry(9)], [entry(8), entry(7)], 2).map((e) => e.id)).toEqual([9, 8]);
  });
  it('returns the listing itself when nothing arrived', () => {
    const listed = [entry(2)];
    expect(mergeRows([], listed)).toBe(listed);
  });
});

describe('labels', () => {
  it('colours status classes', () => {
    expect([200, 301, 404, 503, 0].map(statusColor)).toEqual(['green', 'blue', 'orange', 'red', 'red']);
  });
  it('names versions', () => {
    expect([versionLabel('4'), versionLabel('sandbox-1a2b'), versionLabel('')]).toEqual(['v4', 'sandbox-1a2b', '—']);
  });
});

describe('trafficSummary', () => {
  it('totals, the busiest with traffic, failing and idle rules', () => {
    const s = trafficSummary({
      window: '1h',
      since: '',
      version: 2,
      items: [
        { rule: 'api', requests: 90, errorRate: 0.1, status: {} },
        { rule: '', requests: 10, errorRate: 0, status: {} },
        { rule: 'old', requests: 0, status: {} },
      ],
      failing: ['api'],
      noTraffic: ['old'],
    } as Parameters<typeof trafficSummary>[0]);
    expect(s.requests).toBe(100);
    expect(s.errorRate).toBeCloseTo(0.09);
    expect(s.busiest.map((r) => r.rule)).toEqual(['api', '']);
    expect(s.failing).toEqual(['api']);
    expect(s.idle).toEqual(['old']);
  });
});
