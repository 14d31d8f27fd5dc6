// Credentials of a route's policies as the API shows them: write-only values
// come back as fingerprints, which the editor keeps unless they are replaced.

import type { Action } from './model';

/** A stored credential as the API shows it, write-only: "fp:" and 12 hex digits. */
export const FINGERPRINT = /^fp:[0-9a-f]{12}$/;

/**
 * How many of an action's credentials (basic-auth passwords, API keys, an
 * inline JWKS with key material) are fingerprints of stored values. Sent
 * back as they are, they keep those values: the editor shows them as
 * unchanged.
 */
export function keptCredentials(a: Partial<Action>): number {
  const auth = (a.auth ?? {}) as {
    basic?: { users?: Record<string, unknown> };
    apiKey?: { keys?: unknown[] };
    jwt?: { jwks?: unknown };
  };
  const values = [...Object.values(auth.basic?.users ?? {}), ...(auth.apiKey?.keys ?? []), auth.jwt?.jwks];
  return values.filter((v) => typeof v === 'string' && FINGERPRINT.test(v)).length;
}
