// The model's types, generated from the API's OpenAPI document
// (backend/api/openapi.json, whose model schemas the Go model writes) into
// openapi.gen.ts by `npm run gen:types`; `npm run check:types` fails when
// that file is stale. Field names are the Go json tags: the forms edit
// these objects directly so that a problem path from the API
// ("then.forward[1].weight") names a form field. What the document cannot
// say (the shape of a condition field) and the API's answers not yet
// described there are written here by hand.

import type { components } from './openapi.gen';

type Schemas = components['schemas'];

/** A condition's field; keyed fields carry their key in brackets. */
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

/** The operators the API accepts (the model's operator table). */
export type ConditionOp = NonNullable<Schemas['Condition']['op']>;

/**
 * A node of a rule's condition tree; the empty object matches everything.
 * `op` stays a string: the condition editor and the text parser hold nodes
 * whose operator is still being typed, and the server names a bad one.
 */
export type Condition = Omit<Schemas['Condition'], 'op' | 'all' | 'any' | 'not'> & {
  op?: string;
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
};

export type Route = Omit<Schemas['Route'], 'when'> & { when?: Condition | string };
export type Gateway = Schemas['Gateway'];
export type Upstream = Schemas['Upstream'];
/** Key material for SDS. The private key is write-only: the API shows its fingerprint (fp:…). */
export type Secret = Schemas['Secret'];

/** What every object has: its name, version and last change. */
export type Meta = Pick<Route, 'name' | 'version' | 'updatedAt' | 'updatedBy'>;

export type Action = Schemas['Action'];
export type Backend = Schemas['Backend'];
export type HeaderPolicy = Schemas['HeaderPolicy'];
export type HeaderMutation = Schemas['HeaderMutation'];
export type Redirect = Schemas['Redirect'];
export type Respond = Schemas['Respond'];
export type Rewrite = Schemas['Rewrite'];
export type Retries = Schemas['Retries'];
export type RateLimit = Schemas['RateLimit'];
export type Listener = Schemas['Listener'];
export type Endpoint = Schemas['UpstreamEndpoint'];

/** What an update sends in place of the private key to keep the stored one. */
export const REDACTED_KEY = '<redacted>';

/** One endpoint as discovery currently sees it. */
export interface EndpointStatus {
  address: string;
  port: number;
  weight?: number;
  /** Whether proxies route to it (true where no check runs). */
  healthy: boolean;
  /** What is known: "unknown" unless a check ran (a readiness probe, a Consul check). */
  health?: 'healthy' | 'unhealthy' | 'unknown';
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
  /** The gateway listener it arrives on; absent: one that only the rules of every listener answer on. */
  listener?: string;
}

export interface SandboxResult {
  /** The published version the request ran against; absent for the draft. */
  version?: number;
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
  /** For a WebSocket upgrade the gateway accepted: one message through the tunnel and its echo. */
  webSocket?: { accepted: boolean; sent: string; received: string; echoed: boolean; roundTripMs: number; error?: string };
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
  /** Requests a circuit breaker refused, or whose retry it refused (Envoy's UO flag). */
  overflowed?: number;
  /** Requests by Envoy response flag. */
  responseFlags?: Record<string, number>;
  /** By cluster, the data plane's counters that moved during the run, under Envoy's names. */
  clusters?: Record<string, Record<string, number>>;
}
