import type { ProxyStatus } from './model';

/** How a gateway's proxies stand, for a glance: each proxy counts once. */
export interface ProxySummary {
  inSync: number; // running the current configuration
  pending: number; // connected, still taking it
  nack: number; // connected, refused the last push
  gone: number; // disconnected, still remembered
}

/** Counts proxies by state; a NACK outranks being in sync on other types. */
export function summarizeProxies(items: ProxyStatus[]): ProxySummary {
  const s: ProxySummary = { inSync: 0, pending: 0, nack: 0, gone: 0 };
  for (const p of items) {
    if (!p.connected) s.gone++;
    else if (p.nack) s.nack++;
    else if (p.inSync) s.inSync++;
    else s.pending++;
  }
  return s;
}
