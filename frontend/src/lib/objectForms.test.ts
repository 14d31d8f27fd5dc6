import { describe, expect, it } from 'vitest';
import type { Gateway, Upstream } from './model';
import type { UpstreamFormValues } from './objectForms';
import { REDACTED_KEY } from './model';
import {
  UPSTREAM_CONTAINERS,
  formFieldKnown,
  formToGateway,
  formToSecret,
  formToUpstream,
  kubeChoices,
  type KubeServices,
  gatewayToForm,
  prune,
  secretToForm,
  upstreamFormProblems,
  upstreamToForm,
} from './objectForms';
import { problemsToFormErrors } from './problems';

describe('prune', () => {
  it('drops empty values but keeps lists, zeros and false', () => {
    expect(prune({ a: '', b: 0, c: false, d: [], e: { f: undefined, g: null, h: 'x' } })).toEqual({ b: 0, c: false, d: [], e: { h: 'x' } });
  });
});

describe('upstream form', () => {
  const tests: Record<string, Upstream> = {
    static: { name: 'web', static: { endpoints: [{ address: '10.0.0.1', port: 80, weight: 2 }, { address: '10.0.0.2', port: 81 }] } },
    dns: { name: 'd', dns: { host: 'api.internal', port: 443 }, protocol: 'http2', tls: { sni: 'api.internal' } },
    kubernetes: { name: 'k', kubernetes: { namespace: 'shop', service: 'cart', port: 8080 }, loadBalancer: { policy: 'least-request' } },
    consul: { name: 'c', consul: { service: 'pay', tags: ['v2'], datacenter: 'eu', passingOnly: false } },
    'with every policy': {
      name: 'p',
      static: { endpoints: [{ address: 'a', port: 1 }] },
      connectTimeout: '2s',
      healthCheck: { path: '/hz', interval: '5s', unhealthyThreshold: 3 },
      outlierDetection: { consecutive5xx: 5, baseEjectionTime: '30s' },
      circuitBreaker: { maxRequests: 100, retryBudget: { budgetPercent: 25, minRetryConcurrency: 3 } },
      tls: { caSecret: 'ca', insecureSkipVerify: true },
    },
  };
  for (const [name, u] of Object.entries(tests)) {
    it(`round-trips ${name}`, () => {
      expect(formToUpstream(upstreamToForm(u))).toEqual(u);
    });
  }
  it('sends only the chosen source and the sections switched on', () => {
    const v = upstreamToForm(tests['with every policy']);
    v.source = 'dns';
    v.dns = { host: 'h', port: 80 };
    v.healthCheckOn = false;
    v.retryBudgetOn = false;
    v.tlsOn = false;
    const u = formToUpstream(v);
    expect(u.static).toBeUndefined();
    expect(u.dns).toEqual({ host: 'h', port: 80 });
    expect(u.healthCheck).toBeUndefined();
    expect(u.circuitBreaker).toEqual({ maxRequests: 100 });
    expect(u.tls).toBeUndefined();
  });
  it('places server problems on the inputs they name', () => {
    const v = upstreamToForm(tests.static);
    const { fieldErrors, other } = problemsToFormErrors(
      [
        { field: 'static.endpoints[1].port', message: 'must be 1-65535' },
        { field: 'static.endpoints', message: 'duplicate endpoint' },
        { field: 'static.endpoints[0]', message: 'bad endpoint' },
        { field: 'nope.deeper', message: 'unknown' },
      ],
      formFieldKnown(v, UPSTREAM_CONTAINERS),
    );
    expect(fieldErrors).toEqual({ 'static.endpoints.1.port': 'must be 1-65535', 'static.endpoints': 'duplicate endpoint; bad endpoint' });
    expect(other).toEqual([{ field: 'nope.deeper', message: 'unknown' }]);
  });
  it('places hash key and expected status problems on their inputs', () => {
    const v = upstreamToForm({
      name: 'h',
      static: { endpoints: [{ address: 'a', port: 1 }] },
      loadBalancer: { policy: 'maglev', hashOn: { cookie: 'bad cookie' } },
      healthCheck: { path: '/hz', expectedStatuses: [200, 700] },
    });
    const { fieldErrors, other } = problemsToFormErrors(
      [
        { field: 'loadBalancer.hashOn.cookie', message: 'invalid cookie name "bad cookie"' },
        { field: 'loadBalancer.hashOn', message: 'exactly one of header, cookie and sourceIP is required' },
        { field: 'healthCheck.expectedStatuses[1]', message: 'must be an HTTP status (100-599)' },
        { field: 'consul.tags[0]', message: 'bad tag' },
      ],
      formFieldKnown(v, UPSTREAM_CONTAINERS),
    );
    expect(fieldErrors).toEqual({
      'loadBalancer.hashOn.cookie': 'invalid cookie name "bad cookie"',
      'loadBalancer.hashOn': 'exactly one of header, cookie and sourceIP is required',
      'healthCheck.expectedStatuses': 'must be an HTTP status (100-599)',
      // One tag's problem lands on the tags input.
      'consul.tags': 'bad tag',
    });
    expect(other).toEqual([]);
  });
});

describe('upstream hash key and expected statuses', () => {
  const base: Upstream = { name: 'h', static: { endpoints: [{ address: 'a', port: 1 }] } };
  const roundTrips: Record<string, Upstream> = {
    'ring-hash on a header': { ...base, loadBalancer: { policy: 'ring-hash', hashOn: { header: 'x-user' } } },
    'maglev on a cookie': { ...base, loadBalancer: { policy: 'maglev', hashOn: { cookie: 'session' } } },
    'ring-hash on the source IP': { ...base, loadBalancer: { policy: 'ring-hash', hashOn: { sourceIP: true } } },
    'expected statuses': { ...base, healthCheck: { path: '/hz', expectedStatuses: [200, 204, 301] } },
  };
  for (const [name, u] of Object.entries(roundTrips)) {
    it(`round-trips ${name}`, () => {
      expect(formToUpstream(upstreamToForm(u))).toEqual(u);
    });
  }

  const edits: Record<string, { edit: (v: UpstreamFormValues) => void; want: Upstream }> = {
    'switch the key from header to source IP': {
      edit: (v) => {
        v.loadBalancer.hashBy = 'sourceIP';
      },
      want: { ...base, loadBalancer: { policy: 'ring-hash', hashOn: { sourceIP: true } } },
    },
    'switch the key to a cookie, trimmed': {
      edit: (v) => {
        v.loadBalancer.hashBy = 'cookie';
        v.loadBalancer.hashOn.cookie = ' sid ';
      },
      want: { ...base, loadBalancer: { policy: 'ring-hash', hashOn: { cookie: 'sid' } } },
    },
    'a policy that does not hash drops the key': {
      edit: (v) => {
        v.loadBalancer.policy = 'least-request';
      },
      want: { ...base, loadBalancer: { policy: 'least-request' } },
    },
    'typed statuses become numbers': {
      edit: (v) => {
        v.healthCheckOn = true;
        v.healthCheck.path = '/ready';
        v.healthCheck.expectedStatuses = ['200', ' 503 '];
      },
      want: { ...base, loadBalancer: { policy: 'ring-hash', hashOn: { header: 'x-user' } }, healthCheck: { path: '/ready', expectedStatuses: [200, 503] } },
    },
    'no statuses sends none': {
      edit: (v) => {
        v.healthCheckOn = true;
        v.healthCheck.path = '/ready';
        v.healthCheck.expectedStatuses = [];
      },
      want: { ...base, loadBalancer: { policy: 'ring-hash', hashOn: { header: 'x-user' } }, healthCheck: { path: '/ready' } },
    },
  };
  for (const [name, tc] of Object.entries(edits)) {
    it(name, () => {
      const v = upstreamToForm(roundTrips['ring-hash on a header']);
      tc.edit(v);
      const out = formToUpstream(v);
      expect(out).toEqual(tc.want);
      // What the form sends reads back as the same form.
      expect(formToUpstream(upstreamToForm(out))).toEqual(out);
    });
  }

  it('shows a stored key naming several sources as the first of them', () => {
    const v = upstreamToForm({ ...base, loadBalancer: { policy: 'ring-hash', hashOn: { cookie: 'c', sourceIP: true } } });
    expect(v.loadBalancer.hashBy).toBe('cookie');
    expect(formToUpstream(v).loadBalancer).toEqual({ policy: 'ring-hash', hashOn: { cookie: 'c' } });
  });

  const problems: Record<string, { edit: (v: UpstreamFormValues) => void; want: Record<string, string> }> = {
    'nothing wrong': { edit: () => {}, want: {} },
    'missing header name': {
      edit: (v) => {
        v.loadBalancer.hashOn.header = ' ';
      },
      want: { 'loadBalancer.hashOn.header': 'Name the header to hash on' },
    },
    'missing cookie name': {
      edit: (v) => {
        v.loadBalancer.hashBy = 'cookie';
      },
      want: { 'loadBalancer.hashOn.cookie': 'Name the cookie to hash on' },
    },
    'names do not matter without a hashing policy': {
      edit: (v) => {
        v.loadBalancer.policy = 'random';
        v.loadBalancer.hashOn.header = '';
      },
      want: {},
    },
    'statuses out of range or not numbers': {
      edit: (v) => {
        v.healthCheckOn = true;
        v.healthCheck.expectedStatuses = ['200', '99', '600', 'ok', '2000'];
      },
      want: { 'healthCheck.expectedStatuses': 'Not an HTTP status (100-599): 99, 600, ok, 2000' },
    },
    'statuses are not checked with the health check off': {
      edit: (v) => {
        v.healthCheckOn = false;
        v.healthCheck.expectedStatuses = ['ok'];
      },
      want: {},
    },
  };
  for (const [name, tc] of Object.entries(problems)) {
    it(`checks before saving: ${name}`, () => {
      const v = upstreamToForm(roundTrips['ring-hash on a header']);
      tc.edit(v);
      expect(upstreamFormProblems(v)).toEqual(tc.want);
    });
  }
});

describe('gateway form', () => {
  const g: Gateway = {
    name: 'public',
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificates: [{ secret: 'shop', hosts: ['shop.example.com'] }, { secret: 'default' }], minVersion: '1.3' } },
    ],
    defaultResponse: { status: 404, body: 'no route' },
  };
  it('round-trips', () => {
    expect(formToGateway(gatewayToForm(g))).toEqual(g);
  });
  it('drops TLS from a listener switched to HTTP and the default response when off', () => {
    const v = gatewayToForm(g);
    v.listeners[1].protocol = 'HTTP';
    v.defaultResponseOn = false;
    const out = formToGateway(v);
    expect(out.listeners[1].tls).toBeUndefined();
    expect(out.defaultResponse).toBeUndefined();
  });
});

describe('secret form', () => {
  it('never shows the stored key and sends the placeholder back to keep it', () => {
    const v = secretToForm({ name: 's', tls: { certificate: 'CERT', privateKey: REDACTED_KEY } });
    expect(v.tls.privateKey).toBe('');
    expect(formToSecret(v, true)).toEqual({ name: 's', tls: { certificate: 'CERT', privateKey: REDACTED_KEY } });
  });
  it('sends a replacement key', () => {
    const v = secretToForm({ name: 's', tls: { certificate: 'CERT', privateKey: REDACTED_KEY } });
    v.tls.privateKey = 'NEWKEY';
    expect(formToSecret(v, true).tls?.privateKey).toBe('NEWKEY');
  });
  it('leaves tls out of a CA-only secret', () => {
    expect(formToSecret(secretToForm({ name: 'ca', ca: 'PEM\n' }), false)).toEqual({ name: 'ca', ca: 'PEM' });
  });
});

describe('kubeChoices', () => {
  const reply: KubeServices = {
    namespaces: ['shop', 'default', 'empty'],
    items: [
      { namespace: 'shop', name: 'cart', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] },
      { namespace: 'shop', name: 'pay', ports: [{ port: 9000 }] },
      { namespace: 'default', name: 'cart', ports: [{ port: 80 }] },
    ],
  };
  it('offers every namespace, the services of the chosen one and the ports of the chosen service', () => {
    const c = kubeChoices(reply, 'shop', 'cart');
    expect(c.namespaces).toEqual(['default', 'empty', 'shop']);
    expect(c.services).toEqual(['cart', 'pay']);
    expect(c.ports).toEqual([{ value: '8080', label: '8080 (http)' }, { value: '53', label: '53 (dns) UDP' }]);
    expect(c.portsOf('pay')).toEqual([{ port: 9000 }]);
  });
  it('offers services of every namespace until one is chosen, and nothing without an answer', () => {
    expect(kubeChoices(reply, '', '').services).toEqual(['cart', 'pay']);
    expect(kubeChoices(reply, 'default', 'cart').ports).toEqual([{ value: '80', label: '80' }]);
    expect(kubeChoices(undefined, 'x', 'y')).toMatchObject({ namespaces: [], services: [], ports: [] });
  });
});

describe('saving from a form loses nothing', () => {
  // Fields a form does not show yet must survive an edit-and-save: the
  // editor is not allowed to drop what an operator set through the API or a
  // file.
  it('keeps an upstream hash policy and expected health statuses', () => {
    const u: Upstream = {
      name: 'carts',
      static: { endpoints: [{ address: '10.0.0.1', port: 80 }] },
      loadBalancer: { policy: 'ring-hash', hashOn: { header: 'x-user' } },
      healthCheck: { path: '/ready', expectedStatuses: [200, 204] },
    };
    expect(formToUpstream(upstreamToForm(u))).toEqual(u);
  });
  it('keeps a gateway default response headers', () => {
    const g: Gateway = {
      name: 'public',
      listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }],
      defaultResponse: { status: 404, body: 'no route\n', headers: { 'content-type': 'text/plain' } },
    };
    expect(formToGateway(gatewayToForm(g))).toEqual(g);
  });
});
