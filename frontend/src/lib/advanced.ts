// The action fields the route editor offers as JSON rather than as inputs.

import type { Action } from './model';

/** The action fields edited as JSON here rather than with their own inputs. */
export const ADVANCED_KEYS = ['headers', 'auth', 'access', 'cors', 'fault'] as const;
type AdvancedKey = (typeof ADVANCED_KEYS)[number];

/** The advanced part of an action, as the editor shows it. */
export function advancedText(a: Action): string {
  const picked: Partial<Record<AdvancedKey, unknown>> = {};
  for (const k of ADVANCED_KEYS) if (a[k] !== undefined) picked[k] = a[k];
  return Object.keys(picked).length ? JSON.stringify(picked, null, 2) : '';
}

/**
 * Reads the editor's text back into those fields. Returns the error
 * to show when the text is not a JSON object of known fields.
 */
export function parseAdvanced(text: string): { value: Partial<Action> } | { error: string } {
  if (!text.trim()) return { value: {} };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${(e as Error).message}` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'Write a JSON object, e.g. {"cors": {"allowOrigins": ["*"]}}' };
  const unknown = Object.keys(v).filter((k) => !(ADVANCED_KEYS as readonly string[]).includes(k));
  if (unknown.length) return { error: `Unknown field ${unknown.join(', ')}: use ${ADVANCED_KEYS.join(', ')}` };
  return { value: v as Partial<Action> };
}

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
