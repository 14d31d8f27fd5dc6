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
