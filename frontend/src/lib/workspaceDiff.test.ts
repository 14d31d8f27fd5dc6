import { describe, expect, it } from 'vitest';
import type { Gateway, Route, Secret, Upstream } from './model';
import { canonicalJSON, draftWorkspace, workspaceChanges } from './workspaceDiff';

const gw = (name: string, secret?: string): Gateway => ({
  name,
  listeners: [secret ? { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificates: [{ secret }] } } : { name: 'http', port: 80, protocol: 'HTTP' }],
});
const route = (name: string, gateway: string, upstream: string, extra: Partial<Route> = {}): Route => ({
  name,
  gateway,
  then: { forward: [{ upstream }] },
  ...extra,
});
const up = (name: string, port = 1, caSecret?: string): Upstream => ({
  name,
  static: { endpoints: [{ address: '10.0.0.1', port }] },
  ...(caSecret ? { tls: { caSecret } } : {}),
});
const sec = (name: string): Secret => ({ name, ca: 'PEM' });

describe('draftWorkspace', () => {
  it('takes the gateway, its routes, their upstreams and the secrets they name', () => {
    const ws = draftWorkspace('public', {
      gateways: [gw('public', 'cert'), gw('other')],
      routes: [
        route('a', 'public', 'web', { then: { forward: [{ upstream: 'web' }], mirror: { upstream: 'shadow' } } }),
        route('b', 'other', 'api'),
      ],
      upstreams: [up('web', 1, 'ca'), up('api'), up('shadow'), up('unused')],
      secrets: [sec('cert'), sec('ca'), sec('stray')],
    });
    expect(ws.gateways?.map((g) => g.name)).toEqual(['public']);
    expect(ws.routes?.map((r) => r.name)).toEqual(['a']);
    expect(ws.upstreams?.map((u) => u.name)).toEqual(['web', 'shadow']);
    expect(ws.secrets?.map((s) => s.name)).toEqual(['cert', 'ca']);
  });
});

describe('canonicalJSON', () => {
  it('ignores bookkeeping and key order at the top, keeps nested fields', () => {
    const a = canonicalJSON({ name: 'x', version: 3, updatedAt: 't1', whenText: 'true', then: { version: 1, b: 1, a: 2 } });
    const b = canonicalJSON({ then: { a: 2, b: 1, version: 1 }, name: 'x', version: 4, updatedBy: 'ana' });
    expect(a).toBe(b);
    expect(a).toContain('"version": 1');
  });
});

describe('workspaceChanges', () => {
  const tests: Record<string, { live: Parameters<typeof workspaceChanges>[0]; draft: Parameters<typeof workspaceChanges>[1]; want: [string, string, string][] }> = {
    'nothing published: everything is added': {
      live: {},
      draft: { gateways: [gw('public')], routes: [route('a', 'public', 'web')], upstreams: [up('web')] },
      want: [['Gateway', 'public', 'added'], ['Route', 'a', 'added'], ['Upstream', 'web', 'added']],
    },
    'a saved but unchanged object is not a change': {
      live: { routes: [{ ...route('a', 'public', 'web'), version: 1 }] },
      draft: { routes: [{ ...route('a', 'public', 'web'), version: 2, updatedBy: 'ana' }] },
      want: [],
    },
    'changed, added and removed, by kind then name': {
      live: { routes: [route('b', 'public', 'web'), route('gone', 'public', 'web')], upstreams: [up('web', 1)] },
      draft: { routes: [route('b', 'public', 'web', { priority: 5 }), route('a', 'public', 'web')], upstreams: [up('web', 2)] },
      want: [['Route', 'a', 'added'], ['Route', 'b', 'changed'], ['Route', 'gone', 'removed'], ['Upstream', 'web', 'changed']],
    },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => {
      expect(workspaceChanges(tc.live, tc.draft).map((c) => [c.kind, c.name, c.change])).toEqual(tc.want);
    });
  }
  it('carries both sides as text for the diff view', () => {
    const [c] = workspaceChanges({ upstreams: [up('web', 1)] }, { upstreams: [up('web', 2)] });
    expect(c.before).toContain('port: 1');
    expect(c.after).toContain('port: 2');
  });

  it('shows a route condition as text on both sides', () => {
    const r = (v: string) => ({ name: 'r', gateway: 'g', when: { field: 'path', op: 'prefix', value: v }, then: {} });
    const [c] = workspaceChanges({ routes: [r('/a')] }, { routes: [r('/b')] });
    expect(c.before).toContain('when: path.prefix("/a")');
    expect(c.after).toContain('when: path.prefix("/b")');
  });
});
