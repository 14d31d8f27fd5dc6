import { describe, expect, it } from 'vitest';
import { objectText } from './objectText';

describe('objectText', () => {
  it('shows a route condition as the text people write, not the tree', () => {
    const text = objectText('Route', {
      name: 'web',
      version: 4,
      updatedAt: '2026-01-01T00:00:00Z',
      gateway: 'public',
      priority: 10,
      when: { all: [{ field: 'path', op: 'prefix', value: '/' }, { field: 'header[x-canary]', op: 'equals', value: '1' }] },
      whenText: 'ignored',
      then: { forward: [{ upstream: 'web-v1', weight: 90 }, { upstream: 'web-v2', weight: 10 }], timeout: '15s' },
    });
    expect(text).toBe(
      [
        'name: web',
        'gateway: public',
        'priority: 10',
        'when: path.prefix("/") && header["x-canary"] == "1"',
        'then:',
        '  forward:',
        '  - upstream: web-v1',
        '    weight: 90',
        '  - upstream: web-v2',
        '    weight: 10',
        '  timeout: 15s',
      ].join('\n'),
    );
    expect(text).not.toMatch(/field|op:|value:/);
  });

  it('says that a route without a condition matches every request', () => {
    expect(objectText('route', { name: 'all', gateway: 'g', then: { respond: { status: 200 } } })).toBe(
      ['name: all', 'gateway: g', 'when: true', 'then:', '  respond:', '    status: 200'].join('\n'),
    );
  });

  it('keeps condition text given as text', () => {
    expect(objectText('Route', { name: 'r', when: 'method == "GET"', then: {} })).toContain('when: method == "GET"');
  });

  it('quotes strings YAML would read as something else', () => {
    const text = objectText('Upstream', { name: 'u', description: 'true', tags: ['', '80', 'a: b', ' x'], static: { endpoints: [{ address: '10.0.0.1', port: 80 }] } });
    expect(text).toBe(
      ['name: u', 'description: "true"', 'tags:', '- ""', '- "80"', '- "a: b"', '- " x"', 'static:', '  endpoints:', '  - address: 10.0.0.1', '    port: 80'].join('\n'),
    );
  });

  it('shows an absent object as nothing', () => {
    expect(objectText('Route', undefined)).toBe('');
    expect(objectText('Route', null)).toBe('');
  });
});
