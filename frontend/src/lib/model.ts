// Types mirroring the JSON of backend/model. Field names must stay identical
// to the Go json tags: the forms edit these objects directly so that a
// problem path from the API ("then.forward[1].weight") names a form field.

export type ConditionField =
  | 'host'
  | 'path'
  | 'method'
  | 'scheme'
  | 'grpc'
  | 'grpc.service'
  | 'grpc.method'
  | `header[${string}]`
  | `query[${string}]`
  | `cookie[${string}]`;

export type ConditionOp =
  | 'equals'
  | 'not-equals'
  | 'prefix'
  | 'suffix'
  | 'contains'
  | 'regex'
  | 'present'
  | 'absent'
  | 'in'
  | 'not-in'
  | 'exact'
  | 'segment-prefix'
  | 'template';

/** A node of a rule's condition tree; the empty object matches everything. */
export interface Condition {
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
  field?: string;
  op?: string;
  value?: string;
  values?: string[];
  ignoreCase?: boolean;
}

export interface Meta {
  name: string;
  version?: number;
  updatedAt?: string;
  updatedBy?: string;
}

export interface HeaderMutation {
  set?: Record<string, string>;
  add?: Record<string, string>;
  addIfAbsent?: Record<string, string>;
  remove?: string[];
}

export interface HeaderPolicy {
  request?: HeaderMutation;
  response?: HeaderMutation;
}

export interface Backend {
  upstream: string;
  weight?: number;
  headers?: HeaderPolicy;
}

export interface Redirect {
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  pathPrefix?: string;
  stripQuery?: boolean;
  status?: number;
}

export interface Respond {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface Rewrite {
  pathPrefix?: string;
  pathRegex?: { pattern: string; substitution: string };
  pathTemplate?: string;
  host?: string;
  hostFromHeader?: string;
  autoHost?: boolean;
}

export interface Retries {
  attempts: number;
  on?: string[];
  perTryTimeout?: string;
  backoffBase?: string;
  backoffMax?: string;
}

export interface RateLimit {
  requests: number;
  per: string;
  burst?: number;
  status?: number;
}

export interface Action {
  forward?: Backend[];
  redirect?: Redirect;
  respond?: Respond;
  rewrite?: Rewrite;
  headers?: HeaderPolicy;
  timeout?: string;
  idleTimeout?: string;
  retries?: Retries;
  rateLimit?: RateLimit;
  auth?: Record<string, unknown>;
  access?: { allow?: string[]; deny?: string[] };
  cors?: Record<string, unknown>;
  websocket?: boolean;
  mirror?: { upstream: string; percent?: number };
  fault?: {
    delay?: { duration: string; percent: number };
    abort?: { status: number; percent: number };
  };
}

export interface Route extends Meta {
  gateway: string;
  priority?: number;
  description?: string;
  disabled?: boolean;
  /** Accepted as a tree or as condition-language text. */
  when?: Condition | string;
  /** The server's rendering of `when` in the condition language. */
  whenText?: string;
  then: Action;
}

export interface Listener {
  name: string;
  address?: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS' | string;
  tls?: { certificates: { secret: string; hosts?: string[] }[]; minVersion?: string };
}

export interface Gateway extends Meta {
  description?: string;
  listeners: Listener[];
  defaultResponse?: Respond;
  /** What the gateway's proxies report about each request; absent logs every request. */
  accessLog?: { disabled?: boolean; sampling?: number; requestHeaders?: string[] };
}

export interface Endpoint {
  address: string;
  port: number;
  weight?: number;
}

export interface Upstream extends Meta {
  description?: string;
  static?: { endpoints: Endpoint[] };
  dns?: { host: string; port: number };
  kubernetes?: { namespace: string; service: string; port: number; context?: string };
  consul?: { service: string; tags?: string[]; datacenter?: string; passingOnly?: boolean };
  protocol?: string;
  loadBalancer?: { policy: string; hashOn?: { header?: string; cookie?: string; sourceIP?: boolean } };
  connectTimeout?: string;
  healthCheck?: {
    path: string;
    interval?: string;
    timeout?: string;
    healthyThreshold?: number;
    unhealthyThreshold?: number;
    expectedStatuses?: number[];
  };
  outlierDetection?: { consecutive5xx?: number; interval?: string; baseEjectionTime?: string; maxEjectionPercent?: number };
  tls?: { sni?: string; caSecret?: string; insecureSkipVerify?: boolean };
  circuitBreaker?: {
    maxConnections?: number;
    maxPendingRequests?: number;
    maxRequests?: number;
    maxRetries?: number;
    retryBudget?: { budgetPercent: number; minRetryConcurrency?: number };
  };
}

/** Key material for SDS. The private key is write-only: the API shows its fingerprint (fp:…). */
export interface Secret extends Meta {
  description?: string;
  tls?: { certificate: string; privateKey?: string };
  ca?: string;
}

/** What an update sends in place of the private key to keep the stored one. */
export const REDACTED_KEY = '<redacted>';

/** One endpoint as discovery currently sees it. */
export interface EndpointStatus {
  address: string;
  port: number;
  weight?: number;
  healthy: boolean;
  source: 'static' | 'dns' | 'kubernetes' | 'consul' | string;
  stale?: boolean;
}

export interface ListResponse<T> {
  items: T[];
  /** Absent where the server does not count (the audit log). */
  total?: number;
  /** The page size the server applied, at most maxLimit. */
  limit?: number;
  maxLimit?: number;
  /** Cursor of the next page (?cursor=); absent on the last. */
  next?: string;
}

export interface ProxyStatus {
  node: string;
  connected: boolean;
  /** The proxy runs the gateway's current configuration. */
  inSync?: boolean;
  acked?: Record<string, string>;
  nack?: { typeUrl: string; error: string; rule?: string } | null;
}

/** One change to one object, with the unified diff of its YAML forms. */
export interface Revision {
  id: number;
  at: string;
  actor: string;
  kind: string;
  name: string;
  /** create, update, delete, rollback */
  action: string;
  version: number;
  before?: unknown;
  after?: unknown;
  diff: string;
  /** Set when the object was too large to diff: diff is then a one-line note saying so. */
  diffTooLarge?: boolean;
}

/** One node of a rule's condition tree as the evaluator judged it (pre-order). */
export interface TraceCondition {
  expr: string;
  result: boolean;
  /** 0 for the top-level conditions (members of a top-level &&), 1 for their parts, ... */
  depth?: number;
  error?: string;
}

/** How one rule fared for a request. */
export interface TraceRule {
  rule: string;
  priority?: number;
  matched: boolean;
  /** Why the rule was not evaluated ("disabled"). */
  skipped?: string;
  conditions?: TraceCondition[];
  /** The first top-level condition that was false. */
  firstFailing?: string;
}

/** A rule tried before the winner, in brief: why it did not match. */
export interface TraceRuleBrief {
  rule: string;
  priority?: number;
  skipped?: string;
  firstFailing?: string;
}

/**
 * What POST /evaluate answers: the winner's effect and trace, how many rules
 * were tried before it (the first few in brief) and the near misses, whatever
 * the size of the gateway. With `?trace=full`, one page of the trace of every
 * rule tried, and `traceNext` as the cursor of the next page.
 */
export interface EvaluateResult {
  rule: string | null;
  action?: unknown;
  upstream?: string;
  path?: string;
  host?: string;
  redirectUrl?: string;
  status?: number;
  winner: TraceRule | null;
  tried: number;
  before: TraceRuleBrief[];
  nearMisses: TraceRule[];
  trace?: TraceRule[];
  traceNext?: string;
}

export interface SandboxRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface SandboxResult {
  response: { status: number; headers?: Record<string, string | string[]>; body?: string };
  upstream: string | null;
  endpoint?: string;
  received?: {
    method: string;
    path: string;
    headers?: Record<string, string | string[]>;
    body?: string;
    /** The TLS handshake the upstream got when the gateway originated TLS to it. */
    tls?: { version: string; serverName: string; alpn?: string };
  };
  rule: string | null;
  trace: TraceRule[];
  /** Set when the simulated Envoy and the reference evaluator chose different rules. */
  ruleMismatch?: { envoy: string; evaluator: string };
  durationMs?: number;
  /** The simulated Envoy's account of the exchange; null with a real Envoy. */
  envoy?: SandboxExchange | null;
}

/** What the simulated Envoy reports about one request (the fields the UI reads). */
export interface SandboxExchange {
  notes?: string[];
  /** Health of the chosen cluster's hosts, for upstreams with health checks or outlier detection. */
  health?: ClusterHealth;
}

/** One upstream host's health as the simulated Envoy's load balancer sees it. */
export interface HostHealth {
  address: string;
  /** Chosen by the load balancer (outside panic): passing its check and not ejected. */
  healthy: boolean;
  failedHealthCheck?: boolean;
  pendingHealthCheck?: boolean;
  ejected?: boolean;
  ejectedUntil?: string;
  /** Times ejected by outlier detection: the multiplier of the base ejection time. */
  ejections?: number;
  reason?: string;
  lastCheck?: string;
}

export interface ClusterHealth {
  hosts: HostHealth[];
  /** Too few healthy hosts: requests are balanced over all of them. */
  panic?: boolean;
}

/** One upstream endpoint in a traffic simulation. */
export interface SimulationEndpoint {
  upstream: string;
  /** Place in the upstream's endpoint list, as per-endpoint profiles name it. */
  index: number;
  address: string;
  standsFor?: string;
  requests: number;
  /** Health when the run ended (sim only, upstreams with health checks or outlier detection). */
  health?: HostHealth;
}

export interface SimulationResult {
  perUpstream: Record<string, number>;
  statuses: Record<string, number>;
  retries: number;
  rateLimited: number;
  latencyMs: { p50: number; p90: number; p99: number; max?: number };
  failed?: number;
  sent?: number;
  durationMs?: number;
  timedOut?: boolean;
  endpoints?: SimulationEndpoint[];
}
