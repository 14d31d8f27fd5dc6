// Deploying a gateway to Kubernetes and exporting its routes (Gateway API,
// Consul config entries, Envoy resources): the request and reply shapes of
// /gateways/{name}/deploy and /export/..., and the pure steps between them
// and the screen.

/** The deploy form's values; numbers stay strings or '' until sent. */
export interface DeployFormValues {
  namespace: string;
  createNamespace: boolean;
  serviceType: 'LoadBalancer' | 'NodePort';
  awsNlb: boolean;
  externalTrafficPolicy: 'Cluster' | 'Local';
  replicas: number | string;
  image: string;
  ads: string;
}

/** POST /gateways/{name}/deploy. */
export interface DeployRequest {
  namespace?: string;
  createNamespace?: boolean;
  serviceType?: string;
  awsNlb?: boolean;
  externalTrafficPolicy?: string;
  replicas?: number;
  image?: string;
  ads: string;
  dryRun?: boolean;
}

/** One object a server-side apply touched. */
export interface Applied {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  resourceVersion?: string;
  changed: boolean;
  action?: 'created' | 'configured' | 'unchanged' | string;
  /** Anything else about the outcome (a dry run the server could not check). */
  note?: string;
}

export interface DeployReply {
  dryRun: boolean;
  applied: Applied[];
  yaml: string;
}

/** Something of a rule that does not translate to the export's target. */
export interface ExportIssue {
  rule?: string;
  field?: string;
  reason: string;
  /** The whole rule was left out, not just this part of it. */
  skipped?: boolean;
}

export interface GatewayAPIReply {
  from: string;
  routes: unknown[];
  report: ExportIssue[];
  yaml: string;
  applied?: Applied[];
  crdsInstalled?: boolean;
  dryRun?: boolean;
}

/** A Consul config entry as the agent's API writes it (Kind, Name, ...). */
export type ConsulEntry = Record<string, unknown>;

export interface ConsulReply {
  from: string;
  entries: ConsulEntry[];
  report: ExportIssue[];
  applied?: ConsulEntry[];
}

/** One Envoy resource of GET /export/envoy. */
export interface EnvoyResource {
  type: string;
  name: string;
  resource: unknown;
}

/** The form paths the deploy form shows, for placing the server's field problems. */
export const DEPLOY_FIELDS = ['namespace', 'createNamespace', 'serviceType', 'awsNlb', 'externalTrafficPolicy', 'replicas', 'image', 'ads'];

/** A fresh deploy form: the server's defaults, ADS as last used in this browser. */
export function deployDefaults(lastADS = ''): DeployFormValues {
  return {
    namespace: '',
    createNamespace: false,
    serviceType: 'LoadBalancer',
    awsNlb: false,
    externalTrafficPolicy: 'Cluster',
    replicas: 2,
    image: '',
    ads: lastADS,
  };
}

/**
 * The request for the form's values: text trimmed, empty text left out so
 * the server applies its default (the target's namespace, its Envoy image),
 * an empty replica count left out likewise. AWS NLB only means something
 * on a LoadBalancer Service, so it is not sent for NodePort.
 */
export function deployRequest(v: DeployFormValues, dryRun: boolean): DeployRequest {
  const req: DeployRequest = { ads: v.ads.trim(), serviceType: v.serviceType, externalTrafficPolicy: v.externalTrafficPolicy };
  const ns = v.namespace.trim();
  if (ns) req.namespace = ns;
  if (v.createNamespace) req.createNamespace = true;
  if (v.awsNlb && v.serviceType === 'LoadBalancer') req.awsNlb = true;
  const image = v.image.trim();
  if (image) req.image = image;
  if (v.replicas !== '' && v.replicas !== undefined) req.replicas = Number(v.replicas);
  if (dryRun) req.dryRun = true;
  return req;
}

/** What an apply did to an object; older servers only say whether it changed. */
export function appliedAction(a: Applied): string {
  return a.action || (a.changed ? 'configured' : 'unchanged');
}

/** "Would create" in a dry run, "created" otherwise. */
export function actionLabel(a: Applied, dryRun: boolean): string {
  const action = appliedAction(a);
  if (!dryRun) return action;
  return action === 'unchanged' ? 'unchanged' : `would be ${action}`;
}

/** Counts applied objects per action, for the one-line summary ("2 created, 1 unchanged"). */
export function appliedSummary(applied: Applied[], dryRun: boolean): string {
  const counts = new Map<string, number>();
  for (const a of applied) {
    const label = actionLabel(a, dryRun);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => `${n} ${label}`).join(', ');
}

/** The report of one rule, or of the export as a whole (rule ''). */
export interface RuleReport {
  rule: string;
  /** The rule is missing from the export altogether. */
  skipped: boolean;
  issues: ExportIssue[];
}

/**
 * Groups a report by rule in the order the rules first appear (the
 * server reports them in evaluation order); issues about no rule come
 * first.
 */
export function reportByRule(report: ExportIssue[] | undefined): RuleReport[] {
  const byRule = new Map<string, RuleReport>();
  for (const issue of report ?? []) {
    const rule = issue.rule ?? '';
    let r = byRule.get(rule);
    if (!r) {
      r = { rule, skipped: false, issues: [] };
      byRule.set(rule, r);
    }
    r.skipped ||= !!issue.skipped;
    r.issues.push(issue);
  }
  const out = [...byRule.values()];
  return [...out.filter((r) => !r.rule), ...out.filter((r) => r.rule)];
}

/**
 * Splits off the notice an apply adds when the cluster has no Gateway API
 * CRDs (the screen shows it on its own, prominently); the rest is the
 * translation report.
 */
export function splitCRDNotice(reply: GatewayAPIReply): { notice: string | null; report: ExportIssue[] } {
  const report = reply.report ?? [];
  if (reply.crdsInstalled !== false) return { notice: null, report };
  const i = report.findIndex((x) => !x.rule && /CRDs? not installed/i.test(x.reason));
  if (i < 0) return { notice: 'The cluster does not serve the Gateway API HTTPRoute: install the Gateway API CRDs, then apply again.', report };
  return { notice: report[i].reason, report: report.filter((_, j) => j !== i) };
}

/** "service-router/public": an entry's kind and name, whichever case the JSON uses. */
export function consulEntryLabel(e: ConsulEntry): string {
  const kind = String(e.Kind ?? e.kind ?? '?');
  const name = String(e.Name ?? e.name ?? '?');
  return `${kind}/${name}`;
}

/** "type.googleapis.com/envoy.config.cluster.v3.Cluster" -> "Cluster". */
export function envoyTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

/** Resources per type name, in the order the export lists them. */
export function envoyCounts(items: EnvoyResource[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const it of items) counts.set(envoyTypeName(it.type), (counts.get(envoyTypeName(it.type)) ?? 0) + 1);
  return [...counts];
}

/** The file name of a downloaded Envoy export. */
export function envoyFileName(gateway: string, type: string, version: number | null): string {
  return `${gateway}-envoy-${type}${version ? `-v${version}` : '-draft'}.json`;
}
