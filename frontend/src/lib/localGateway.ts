// The dashboard's "run a local gateway": the API's state of a gateway's
// local gateway (GET|PUT|DELETE /gateways/{name}/local) and what the page
// makes of it.

import type { components } from './openapi.gen';

export type LocalGateway = components['schemas']['LocalGateway'];
export type LocalTraffic = components['schemas']['LocalTraffic'];
export type LocalState = LocalGateway['state'];

export const localKey = (gateway: string) => ['gateways', gateway, 'local'] as const;

/** How the page names and colours each state. */
export const STATE_LABEL: Record<LocalState, { label: string; color: string }> = {
  stopped: { label: 'Stopped', color: 'gray' },
  waiting: { label: 'Waiting for a publish', color: 'yellow' },
  starting: { label: 'Starting', color: 'blue' },
  ready: { label: 'Running', color: 'green' },
  refused: { label: 'Refused the configuration', color: 'red' },
};

/**
 * How often the page asks again: often while the local gateway is on its
 * way to serving (a publish elsewhere moves it on), rarely once it runs or
 * is stopped (another user may start or stop it).
 */
export function localRefetchInterval(st: LocalGateway | undefined): number {
  if (st?.state === 'starting' || st?.state === 'waiting') return 1_000;
  return 10_000;
}

/** "200 × 4, 503 × 2", most frequent first, then by code. */
export function statusSummary(statuses: Record<string, number>, errors = 0): string {
  const parts = Object.entries(statuses)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([code, n]) => `${code} × ${n}`);
  if (errors > 0) parts.push(`no answer × ${errors}`);
  return parts.join(', ');
}

/** The colour of a status code's class. */
export function statusColor(code: string): string {
  if (code.startsWith('2')) return 'green';
  if (code.startsWith('3')) return 'blue';
  if (code.startsWith('4')) return 'yellow';
  return 'red';
}
