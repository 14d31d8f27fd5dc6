// Form values for gateways, upstreams and secrets, and their conversion to
// and from the API objects. The values keep the API's field names, so a
// problem path from the server ("static.endpoints[1].port") names a form
// field ("static.endpoints.1.port"); switches, the source choice and the
// hash key choice are the only additions, and they are dropped on the way out.

import type { Endpoint, Gateway, Listener, Respond, Secret, Upstream } from './model';
import { REDACTED_KEY } from './model';

type Num = number | '';

/** Removes empty strings, nulls and undefined from an object tree; arrays and empty objects stay. */
export function prune<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => prune(x)) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === '' || x === null || x === undefined) continue;
      out[k] = prune(x);
    }
    return out as T;
  }
  return v;
}

/**
 * Whether a form path is an input on screen: a leaf value (or a list of
 * plain values, like tags) of the form, or one of the `containers` the form
 * shows errors under (a list of endpoints, say). Problems about anything
 * else move up to the nearest such path (see problemsToFormErrors).
 */
export function formFieldKnown(values: unknown, containers: RegExp[]) {
  return (path: string): boolean => {
    if (containers.some((re) => re.test(path))) return true;
    let v: unknown = values;
    let parent: unknown;
    for (const part of path.split('.')) {
      if (v === null || typeof v !== 'object') return false;
      parent = v;
      v = (v as Record<string, unknown>)[part];
    }
    if (v === undefined) return false;
    // One entry of a list of plain values (a tag, a status code) has no
    // input of its own: the list's input shows its problems.
    if (Array.isArray(parent) && parent.every((x) => x === null || typeof x !== 'object')) return false;
    if (Array.isArray(v)) return v.every((x) => x === null || typeof x !== 'object');
    return v === null || typeof v !== 'object';
  };
}

// ---- Upstream ----

export type UpstreamSource = 'static' | 'dns' | 'kubernetes' | 'consul';

/** What consistent hashing keys on; the model allows exactly one. '' is not chosen yet. */
export type HashBy = '' | 'header' | 'cookie' | 'sourceIP';

/** Whether a load balancer policy hashes requests (and so needs a hash key). */
export const hashesRequests = (policy: string) => policy === 'ring-hash' || policy === 'maglev';

export interface UpstreamFormValues {
  name: string;
  version?: number;
  description: string;
  source: UpstreamSource;
  static: { endpoints: { address: string; port: Num; weight: Num }[] };
  dns: { host: string; port: Num };
  kubernetes: { namespace: string; service: string; port: Num; context: string };
  consul: { service: string; tags: string[]; datacenter: string; passingOnly: boolean };
  protocol: string;
  /** hashBy picks which of hashOn's names (or the source IP) is sent. */
  loadBalancer: { policy: string; hashBy: HashBy; hashOn: { header: string; cookie: string } };
  connectTimeout: string;
  healthCheckOn: boolean;
  /** expectedStatuses are the status codes as typed (a tags input edits strings). */
  healthCheck: { path: string; interval: string; timeout: string; healthyThreshold: Num; unhealthyThreshold: Num; expectedStatuses: string[] };
  outlierOn: boolean;
  outlierDetection: { consecutive5xx: Num; interval: string; baseEjectionTime: string; maxEjectionPercent: Num };
  circuitBreakerOn: boolean;
  circuitBreaker: {
    maxConnections: Num;
    maxPendingRequests: Num;
    maxRequests: Num;
    maxRetries: Num;
    retryBudget: { budgetPercent: Num; minRetryConcurrency: Num };
  };
  retryBudgetOn: boolean;
  tlsOn: boolean;
  tls: { sni: string; caSecret: string; insecureSkipVerify: boolean };
}

const num = (v: number | undefined): Num => (v === undefined ? '' : v);

/**
 * The hash key an upstream uses. A stored value naming more than one (which
 * validation rejects) shows the first of header, cookie and source IP.
 */
function hashBy(h: NonNullable<Upstream['loadBalancer']>['hashOn']): HashBy {
  if (h?.header) return 'header';
  if (h?.cookie) return 'cookie';
  if (h?.sourceIP) return 'sourceIP';
  return '';
}

/** Whether a typed status code is a whole number the server accepts (100-599). */
export const isStatusCode = (s: string) => /^\d{3}$/.test(s.trim()) && Number(s) >= 100 && Number(s) <= 599;

/**
 * Problems the upstream form can tell before saving, keyed by form path:
 * a missing header or cookie name for the chosen hash key and typed status
 * codes that are not HTTP statuses. The server checks the same again.
 */
export function upstreamFormProblems(v: UpstreamFormValues): Record<string, string> {
  const out: Record<string, string> = {};
  const lb = v.loadBalancer;
  if (hashesRequests(lb.policy)) {
    if (lb.hashBy === 'header' && !lb.hashOn.header.trim()) out['loadBalancer.hashOn.header'] = 'Name the header to hash on';
    if (lb.hashBy === 'cookie' && !lb.hashOn.cookie.trim()) out['loadBalancer.hashOn.cookie'] = 'Name the cookie to hash on';
  }
  if (v.healthCheckOn) {
    const bad = v.healthCheck.expectedStatuses.filter((s) => !isStatusCode(s));
    if (bad.length) out['healthCheck.expectedStatuses'] = `Not an HTTP status (100-599): ${bad.join(', ')}`;
  }
  return out;
}

/** The source an upstream uses (static when it has none yet). */
export function upstreamSource(u: Upstream): UpstreamSource {
  if (u.dns) return 'dns';
  if (u.kubernetes) return 'kubernetes';
  if (u.consul) return 'consul';
  return 'static';
}

export function upstreamToForm(u: Upstream): UpstreamFormValues {
  const cb = u.circuitBreaker;
  return {
    name: u.name,
    version: u.version,
    description: u.description ?? '',
    source: upstreamSource(u),
    static: { endpoints: (u.static?.endpoints ?? [{ address: '', port: 80 }]).map((e) => ({ address: e.address, port: num(e.port), weight: num(e.weight) })) },
    dns: { host: u.dns?.host ?? '', port: num(u.dns?.port) },
    kubernetes: { namespace: u.kubernetes?.namespace ?? '', service: u.kubernetes?.service ?? '', port: num(u.kubernetes?.port), context: u.kubernetes?.context ?? '' },
    consul: { service: u.consul?.service ?? '', tags: u.consul?.tags ?? [], datacenter: u.consul?.datacenter ?? '', passingOnly: u.consul?.passingOnly ?? true },
    protocol: u.protocol ?? '',
    loadBalancer: {
      policy: u.loadBalancer?.policy ?? '',
      hashBy: hashBy(u.loadBalancer?.hashOn),
      hashOn: { header: u.loadBalancer?.hashOn?.header ?? '', cookie: u.loadBalancer?.hashOn?.cookie ?? '' },
    },
    connectTimeout: u.connectTimeout ?? '',
    healthCheckOn: !!u.healthCheck,
    healthCheck: {
      path: u.healthCheck?.path ?? '/healthz',
      interval: u.healthCheck?.interval ?? '',
      timeout: u.healthCheck?.timeout ?? '',
      healthyThreshold: num(u.healthCheck?.healthyThreshold),
      unhealthyThreshold: num(u.healthCheck?.unhealthyThreshold),
      expectedStatuses: (u.healthCheck?.expectedStatuses ?? []).map(String),
    },
    outlierOn: !!u.outlierDetection,
    outlierDetection: {
      consecutive5xx: num(u.outlierDetection?.consecutive5xx),
      interval: u.outlierDetection?.interval ?? '',
      baseEjectionTime: u.outlierDetection?.baseEjectionTime ?? '',
      maxEjectionPercent: num(u.outlierDetection?.maxEjectionPercent),
    },
    circuitBreakerOn: !!cb,
    circuitBreaker: {
      maxConnections: num(cb?.maxConnections),
      maxPendingRequests: num(cb?.maxPendingRequests),
      maxRequests: num(cb?.maxRequests),
      maxRetries: num(cb?.maxRetries),
      retryBudget: { budgetPercent: num(cb?.retryBudget?.budgetPercent ?? 20), minRetryConcurrency: num(cb?.retryBudget?.minRetryConcurrency) },
    },
    retryBudgetOn: !!cb?.retryBudget,
    tlsOn: !!u.tls,
    tls: { sni: u.tls?.sni ?? '', caSecret: u.tls?.caSecret ?? '', insecureSkipVerify: u.tls?.insecureSkipVerify ?? false },
  };
}

/** The upstream the form describes: only the chosen source and the sections switched on. */
export function formToUpstream(v: UpstreamFormValues): Upstream {
  const u: Upstream = { name: v.name, version: v.version, description: v.description };
  switch (v.source) {
    case 'static':
      u.static = { endpoints: v.static.endpoints.map((e) => prune({ address: e.address.trim(), port: e.port, weight: e.weight }) as Endpoint) };
      break;
    case 'dns':
      u.dns = prune({ host: v.dns.host.trim(), port: v.dns.port }) as Upstream['dns'];
      break;
    case 'kubernetes':
      u.kubernetes = prune({ ...v.kubernetes }) as Upstream['kubernetes'];
      break;
    case 'consul':
      u.consul = prune({ ...v.consul, tags: v.consul.tags.length ? v.consul.tags : undefined }) as Upstream['consul'];
      break;
  }
  u.protocol = v.protocol;
  const lb = v.loadBalancer;
  if (lb.policy) {
    u.loadBalancer = { policy: lb.policy };
    // Only hashing policies take a key, and only the chosen one is sent:
    // the model allows exactly one.
    if (hashesRequests(lb.policy) && lb.hashBy) {
      u.loadBalancer.hashOn = lb.hashBy === 'sourceIP' ? { sourceIP: true } : { [lb.hashBy]: lb.hashOn[lb.hashBy].trim() };
    }
  }
  u.connectTimeout = v.connectTimeout;
  if (v.healthCheckOn) {
    const statuses = v.healthCheck.expectedStatuses.map((s) => Number(s.trim()));
    u.healthCheck = prune({ ...v.healthCheck, expectedStatuses: statuses.length ? statuses : undefined }) as Upstream['healthCheck'];
  }
  if (v.outlierOn) u.outlierDetection = prune({ ...v.outlierDetection }) as Upstream['outlierDetection'];
  if (v.circuitBreakerOn) {
    const { retryBudget, ...limits } = v.circuitBreaker;
    u.circuitBreaker = prune({ ...limits, retryBudget: v.retryBudgetOn ? retryBudget : undefined }) as Upstream['circuitBreaker'];
  }
  if (v.tlsOn) u.tls = prune({ ...v.tls, insecureSkipVerify: v.tls.insecureSkipVerify || undefined });
  return prune(u);
}

/** Form paths the upstream form shows errors under although they hold no single value. */
export const UPSTREAM_CONTAINERS = [/^$/, /^(static|dns|kubernetes|consul)$/, /^static\.endpoints$/, /^(healthCheck|outlierDetection|circuitBreaker|tls)$/, /^circuitBreaker\.retryBudget$/, /^loadBalancer\.hashOn$/];

// ---- Gateway ----

export interface ListenerFormValues {
  name: string;
  address: string;
  port: Num;
  protocol: string;
  tls: { certificates: { secret: string; hosts: string[] }[]; minVersion: string };
}

export interface GatewayFormValues {
  name: string;
  version?: number;
  description: string;
  listeners: ListenerFormValues[];
  defaultResponseOn: boolean;
  /** headers are not edited here yet; they are carried through so a save keeps them. */
  defaultResponse: { status: Num; body: string; headers?: Record<string, string> };
  /** Not edited here yet; carried through so a save keeps it. */
  accessLog?: Gateway['accessLog'];
}

export function gatewayToForm(g: Gateway): GatewayFormValues {
  return {
    name: g.name,
    version: g.version,
    description: g.description ?? '',
    listeners: g.listeners.map((l) => ({
      name: l.name,
      address: l.address ?? '',
      port: num(l.port),
      protocol: l.protocol,
      tls: { certificates: (l.tls?.certificates ?? []).map((c) => ({ secret: c.secret, hosts: c.hosts ?? [] })), minVersion: l.tls?.minVersion ?? '' },
    })),
    defaultResponseOn: !!g.defaultResponse,
    defaultResponse: { status: num(g.defaultResponse?.status ?? 404), body: g.defaultResponse?.body ?? '', headers: g.defaultResponse?.headers },
    accessLog: g.accessLog,
  };
}

/** The gateway the form describes; TLS settings only on HTTPS listeners. */
export function formToGateway(v: GatewayFormValues): Gateway {
  const listeners = v.listeners.map((l) => {
    const out = prune({ name: l.name, address: l.address, port: l.port, protocol: l.protocol }) as Listener;
    if (l.protocol === 'HTTPS') {
      out.tls = prune({
        certificates: l.tls.certificates.map((c) => prune({ secret: c.secret, hosts: c.hosts.length ? c.hosts : undefined })),
        minVersion: l.tls.minVersion,
      }) as Listener['tls'];
    }
    return out;
  });
  const g: Gateway = prune({ name: v.name, version: v.version, description: v.description, listeners });
  if (v.defaultResponseOn) g.defaultResponse = prune({ status: v.defaultResponse.status, body: v.defaultResponse.body, headers: v.defaultResponse.headers }) as Respond;
  if (v.accessLog) g.accessLog = v.accessLog;
  return g;
}

export const GATEWAY_CONTAINERS = [/^$/, /^listeners$/, /^listeners\.\d+$/, /^listeners\.\d+\.tls$/, /^listeners\.\d+\.tls\.certificates$/, /^defaultResponse$/];

// ---- Secret ----

export interface SecretFormValues {
  name: string;
  version?: number;
  description: string;
  /** privateKey is a new key; empty keeps the stored one. */
  tls: { certificate: string; privateKey: string };
  ca: string;
}

/** Whether the server holds a private key for the secret (it only ever shows its fingerprint). */
export const hasStoredKey = (s: Secret) => !!s.tls?.privateKey;

export function secretToForm(s: Secret): SecretFormValues {
  return { name: s.name, version: s.version, description: s.description ?? '', tls: { certificate: s.tls?.certificate ?? '', privateKey: '' }, ca: s.ca ?? '' };
}

/**
 * The secret the form describes. Without a new key the redacted placeholder
 * goes back, which tells the server to keep the key it has.
 */
export function formToSecret(v: SecretFormValues, storedKey: boolean): Secret {
  const s: Secret = prune({ name: v.name, version: v.version, description: v.description, ca: v.ca.trim() });
  const key = v.tls.privateKey.trim() ? v.tls.privateKey : storedKey ? REDACTED_KEY : '';
  if (v.tls.certificate.trim() || key) s.tls = prune({ certificate: v.tls.certificate, privateKey: key });
  return s;
}

export const SECRET_CONTAINERS = [/^$/, /^tls$/];

// ---- Discovery pickers ----

/** GET /targets/kubernetes/services. */
export interface KubeServices {
  namespaces?: string[];
  items?: { namespace: string; name: string; ports?: { name?: string; port: number; protocol?: string }[] }[];
}

/**
 * What the Kubernetes picker offers for the namespace and service typed so
 * far: every namespace the cluster reported, the services of the chosen
 * namespace and the ports of the chosen service.
 */
export function kubeChoices(reply: KubeServices | undefined, namespace: string, service: string) {
  const items = reply?.items ?? [];
  const namespaces = [...new Set([...(reply?.namespaces ?? []), ...items.map((s) => s.namespace)])].sort();
  const inNs = items.filter((s) => !namespace || s.namespace === namespace);
  const services = [...new Set(inNs.map((s) => s.name))].sort();
  const svc = inNs.find((s) => s.name === service);
  const ports = (svc?.ports ?? []).map((p) => ({
    value: String(p.port),
    label: `${p.port}${p.name ? ` (${p.name})` : ''}${p.protocol && p.protocol !== 'TCP' ? ` ${p.protocol}` : ''}`,
  }));
  return { namespaces, services, ports, portsOf: (name: string) => inNs.find((s) => s.name === name)?.ports ?? [] };
}
