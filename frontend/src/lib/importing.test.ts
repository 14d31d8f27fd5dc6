import { describe, expect, it } from 'vitest';
import { IMPORT_FORMATS, guessFormat, importObjects, problemsByObject } from './importing';

describe('guessFormat', () => {
  it('knows each format from its head', () => {
    expect(guessFormat('openapi: 3.1.0\ninfo: {}')).toBe('openapi');
    expect(guessFormat('{"openapi": "3.0.3"}')).toBe('openapi');
    expect(guessFormat('_format_version: "3.0"\nservices: []')).toBe('kong');
    expect(guessFormat('apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n')).toBe('gateway-api');
    expect(guessFormat('apiVersion: networking.k8s.io/v1\nkind: Ingress\n')).toBe('ingress');
    expect(guessFormat('kind: Service')).toBeNull();
  });
  it('reads its own placeholders as their formats', () => {
    for (const f of IMPORT_FORMATS) expect(guessFormat(f.placeholder)).toBe(f.value);
  });
});

describe('import preview', () => {
  const res = {
    report: [],
    workspace: { routes: [{ name: 'a', gateway: 'g', then: {} }, { name: 'b', gateway: 'g', then: {} }], upstreams: [{ name: 'u' }] },
    problems: [
      { field: 'routes[1].then.forward[0].upstream', message: 'unknown upstream "x"' },
      { field: 'routes[1]', message: 'duplicate' },
      { field: 'gateways', message: 'elsewhere' },
    ],
  };
  it('lists upstreams, then routes, each with its path', () => {
    expect(importObjects(res).map((o) => `${o.path}=${o.key}`)).toEqual(['upstreams[0]=upstream/u', 'routes[0]=route/a', 'routes[1]=route/b']);
  });
  it('puts each problem on its object', () => {
    expect(problemsByObject(res.problems)).toEqual(new Map([['routes[1]', ['then.forward[0].upstream: unknown upstream "x"', 'duplicate']]]));
  });
});
