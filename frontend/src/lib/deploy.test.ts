import { describe, expect, it } from 'vitest';
import {
  actionLabel,
  appliedSummary,
  consulEntryLabel,
  deployDefaults,
  deployRequest,
  envoyCounts,
  envoyFileName,
  reportByRule,
  splitCRDNotice,
  type Applied,
  type DeployFormValues,
} from './deploy';

describe('deployRequest', () => {
  const tests: Record<string, { values: Partial<DeployFormValues>; dryRun: boolean; want: object }> = {
    'defaults leave the server to choose namespace and image': {
      values: { ads: ' routedeck.infra:18000 ' },
      dryRun: true,
      want: { ads: 'routedeck.infra:18000', serviceType: 'LoadBalancer', externalTrafficPolicy: 'Cluster', replicas: 2, dryRun: true },
    },
    'everything set': {
      values: { ads: 'a:1', namespace: ' shop ', createNamespace: true, awsNlb: true, externalTrafficPolicy: 'Local', replicas: '3', image: 'envoy:x' },
      dryRun: false,
      want: { ads: 'a:1', namespace: 'shop', createNamespace: true, awsNlb: true, serviceType: 'LoadBalancer', externalTrafficPolicy: 'Local', replicas: 3, image: 'envoy:x' },
    },
    'NLB is dropped for NodePort': {
      values: { ads: 'a:1', serviceType: 'NodePort', awsNlb: true },
      dryRun: false,
      want: { ads: 'a:1', serviceType: 'NodePort', externalTrafficPolicy: 'Cluster', replicas: 2 },
    },
    'an empty replica count is left to the server': {
      values: { ads: '', replicas: '' },
      dryRun: false,
      want: { ads: '', serviceType: 'LoadBalancer', externalTrafficPolicy: 'Cluster' },
    },
  };
  for (const [name, tc] of Object.entries(tests)) {
    it(name, () => {
      expect(deployRequest({ ...deployDefaults(), ...tc.values }, tc.dryRun)).toEqual(tc.want);
    });
  }
  it('prefills the last ADS address', () => {
    expect(deployDefaults('x:18000').ads).toBe('x:18000');
  });
});

describe('applied actions', () => {
  const obj = (action: string | undefined, changed: boolean): Applied => ({ apiVersion: 'v1', kind: 'Service', name: 's', action, changed });
  it('labels dry runs as what would happen', () => {
    expect(actionLabel(obj('created', true), true)).toBe('would be created');
    expect(actionLabel(obj('unchanged', false), true)).toBe('unchanged');
    expect(actionLabel(obj('configured', true), false)).toBe('configured');
  });
  it('falls back to changed without an action', () => {
    expect(actionLabel(obj(undefined, true), false)).toBe('configured');
    expect(actionLabel(obj(undefined, false), false)).toBe('unchanged');
  });
  it('summarises per action in first-seen order', () => {
    expect(appliedSummary([obj('created', true), obj('unchanged', false), obj('created', true)], false)).toBe('2 created, 1 unchanged');
    expect(appliedSummary([], true)).toBe('');
  });
});

describe('reportByRule', () => {
  it('groups by rule, general issues first, skipped if any issue skips the rule', () => {
    const got = reportByRule([
      { rule: 'b', field: 'then.mirror', reason: 'no mirrors' },
      { reason: 'listener https: TLS is not exported' },
      { rule: 'a', field: 'when', reason: 'regex', skipped: true },
      { rule: 'b', field: 'then.retry', reason: 'no retries' },
    ]);
    expect(got.map((r) => [r.rule, r.skipped, r.issues.length])).toEqual([
      ['', false, 1],
      ['b', false, 2],
      ['a', true, 1],
    ]);
  });
  it('takes a missing report', () => {
    expect(reportByRule(undefined)).toEqual([]);
  });
});

describe('splitCRDNotice', () => {
  const crd = { reason: 'Gateway API CRDs not installed: install them', skipped: true };
  const issue = { rule: 'a', reason: 'x' };
  it('takes the notice out of the report when the CRDs are missing', () => {
    expect(splitCRDNotice({ from: 'draft', routes: [], yaml: '', report: [issue, crd], crdsInstalled: false })).toEqual({ notice: crd.reason, report: [issue] });
  });
  it('says so even when the server did not explain', () => {
    expect(splitCRDNotice({ from: 'draft', routes: [], yaml: '', report: [issue], crdsInstalled: false }).notice).toMatch(/install the Gateway API CRDs/);
  });
  it('has no notice for a preview or a cluster with the CRDs', () => {
    for (const crdsInstalled of [undefined, true]) {
      expect(splitCRDNotice({ from: 'draft', routes: [], yaml: '', report: [issue], crdsInstalled })).toEqual({ notice: null, report: [issue] });
    }
  });
});

describe('export helpers', () => {
  it('labels Consul entries in either case', () => {
    expect(consulEntryLabel({ Kind: 'service-router', Name: 'public' })).toBe('service-router/public');
    expect(consulEntryLabel({ kind: 'service-resolver', name: 'web' })).toBe('service-resolver/web');
  });
  it('counts Envoy resources per type', () => {
    const t = (s: string) => `type.googleapis.com/envoy.config.${s}`;
    expect(envoyCounts([
      { type: t('listener.v3.Listener'), name: 'l', resource: {} },
      { type: t('cluster.v3.Cluster'), name: 'a', resource: {} },
      { type: t('cluster.v3.Cluster'), name: 'b', resource: {} },
    ])).toEqual([['Listener', 1], ['Cluster', 2]]);
  });
  it('names the download after gateway, type and version', () => {
    expect(envoyFileName('public', 'all', null)).toBe('public-envoy-all-draft.json');
    expect(envoyFileName('public', 'routes', 4)).toBe('public-envoy-routes-v4.json');
  });
});
