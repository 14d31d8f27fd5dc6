/** "type.googleapis.com/envoy.config.route.v3.RouteConfiguration" -> "RouteConfiguration". */
export function shortTypeUrl(t: string): string {
  return t.slice(t.lastIndexOf('.') + 1) || t;
}

/** A short relative time ("3 min ago"), or the raw text when it is not a date. */
export function timeAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

/** How the platform writes the shortcut modifier: ⌘ on Apple systems, Ctrl elsewhere. */
export const MOD_KEY = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘' : 'Ctrl';

/** The noun for a count: one when n is 1, else many (noun + "s" unless given). */
export function noun(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** "1 route", "2 routes": a count with its noun. */
export function plural(n: number, one: string, many?: string): string {
  return `${n} ${noun(n, one, many)}`;
}
