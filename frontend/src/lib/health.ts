import type { HostHealth } from './model';
import type { SimulationProfile, UpstreamBehaviour } from './queries';

/** A short word for a host's state, most pressing first. */
export function hostState(h: HostHealth): { label: string; color: string } {
  if (h.ejected) return { label: h.ejections && h.ejections > 1 ? `ejected (${h.ejections}×)` : 'ejected', color: 'red' };
  if (h.pendingHealthCheck) return { label: 'not checked yet', color: 'gray' };
  if (h.failedHealthCheck) return { label: 'failing health check', color: 'orange' };
  return { label: 'healthy', color: 'green' };
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
