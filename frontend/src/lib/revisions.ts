import type { Revision } from './model';

/**
 * The changes made since a version went live: the newest revision of each
 * object changed after `since` (all revisions when nothing is live yet),
 * newest first.
 */
export function changesSince(revisions: Revision[], since: string | undefined): Revision[] {
  const t = since ? Date.parse(since) : -Infinity;
  const seen = new Set<string>();
  const out: Revision[] = [];
  for (const r of [...revisions].sort((a, b) => Date.parse(b.at) - Date.parse(a.at))) {
    const key = `${r.kind}/${r.name}`;
    if (Date.parse(r.at) <= t || seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}
