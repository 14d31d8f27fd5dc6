import type { EndpointStatus, HostHealth, SimulationResult } from './model';
import type { SimulationProfile, UpstreamBehaviour } from './queries';

/** A short word for a host's state, most pressing first. */
export function hostState(h: HostHealth): { label: string; color: string } {
  if (h.ejected) return { label: h.ejections && h.ejections > 1 ? `ejected (${h.ejections}×)` : 'ejected', color: 'red' };
  if (h.pendingHealthCheck) return { label: 'not checked yet', color: 'gray' };
  if (h.failedHealthCheck) return { label: 'failing health check', color: 'orange' };
  return { label: 'healthy', color: 'green' };
}

/**
 * An endpoint's health as the control plane knows it. Routed to is not
 * healthy: a static or DNS endpoint nothing listens on is routed to all
 * the same, so without a check that ran it is "unknown", never "healthy".
 */
export function endpointHealth(e: Pick<EndpointStatus, 'healthy' | 'health' | 'source'>, hasHealthCheck = false): { label: string; color: string; title: string } {
  if (e.health === 'unhealthy' || (!e.healthy && e.health !== 'healthy')) {
    return { label: 'unhealthy', color: 'red', title: e.healthy ? 'Its check fails; it still takes a share of the traffic' : 'Its check fails: proxies do not route to it' };
  }
  if (e.health === 'healthy') return { label: 'healthy', color: 'green', title: `${e.source === 'consul' ? "Consul's checks" : 'The readiness probe'} pass` };
  return {
    label: 'unknown',
    color: 'gray',
    title: hasHealthCheck
      ? "No check result here: each proxy runs the upstream's health check itself. Proxies route to it."
      : 'No health check ran, so nothing shows that anything listens here. Proxies route to it; add a health check to have them skip it when it is down.',
  };
}

/** One row of the simulation form: a whole upstream, or one endpoint of it when endpoint is a number. */
export interface ProfileRow {
  upstream: string;
  endpoint: number | '';
  latencyMs: number;
  /** Percent of 5xx answers. */
  errorRate: number;
}

/** Turns the form's rows into the simulation's upstreams: endpoint rows override their upstream's row for that endpoint. */
export function upstreamBehaviours(rows: ProfileRow[]): NonNullable<SimulationProfile['upstreams']> {
  const out: NonNullable<SimulationProfile['upstreams']> = {};
  for (const r of rows) {
    if (!r.upstream) continue;
    const b: UpstreamBehaviour = { latencyMs: r.latencyMs, errorRate: r.errorRate / 100 };
    const u = (out[r.upstream] ??= {});
    if (r.endpoint === '') {
      Object.assign(u, b);
    } else {
      u.endpoints = { ...u.endpoints, [String(r.endpoint)]: b };
    }
  }
  return out;
}

/** Envoy's counters of circuit-breaker overflow, in the order a reader meets them. */
const OVERFLOW_COUNTERS = ['upstream_rq_pending_overflow', 'upstream_cx_overflow', 'upstream_rq_retry_overflow'] as const;

/** One cluster's overflow counters that moved during a run. */
export interface ClusterOverflow {
  cluster: string;
  counters: { name: string; value: number }[];
}

/**
 * What circuit breakers refused in a run: the clusters whose overflow
 * counters moved, busiest first, and the response flags by count. Empty
 * lists when nothing overflowed, so the view can say so.
 */
export function overflowSummary(result: SimulationResult): { clusters: ClusterOverflow[]; flags: { flag: string; count: number }[] } {
  const clusters: ClusterOverflow[] = [];
  for (const [cluster, stats] of Object.entries(result.clusters ?? {})) {
    const counters = OVERFLOW_COUNTERS.filter((n) => (stats[n] ?? 0) > 0).map((name) => ({ name, value: stats[name] }));
    if (counters.length) clusters.push({ cluster, counters });
  }
  const total = (c: ClusterOverflow) => c.counters.reduce((a, b) => a + b.value, 0);
  clusters.sort((a, b) => total(b) - total(a) || a.cluster.localeCompare(b.cluster));
  const flags = Object.entries(result.responseFlags ?? {})
    .filter(([, count]) => count > 0)
    .map(([flag, count]) => ({ flag, count }))
    .sort((a, b) => b.count - a.count || a.flag.localeCompare(b.flag));
  return { clusters, flags };
}
