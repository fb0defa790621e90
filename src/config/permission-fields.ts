/**
 * Zod fields for Kestra permissions (`{FLOW: [READ]}`, `FLOW:READ`) and for
 * the JWS algorithms a bearer issuer may use. Resource and action names are
 * open strings — Kestra 1.x CRUD and 2.x actions (VIEW, EXECUTE…) both fit —
 * upper-cased here so every later comparison is exact.
 */
import { field } from './schema-fields.js';

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** `{FLOW: [READ, UPDATE], EXECUTION: ['*']}` → upper-cased, actions de-duplicated. */
export const permissionMap = field((v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return { error: 'must be a map of RESOURCE: [ACTIONS], e.g. { FLOW: [READ] }' };
  }
  const out: Record<string, string[]> = {};
  for (const [resource, actions] of Object.entries(v)) {
    if (!NAME.test(resource)) return { error: `"${clip(resource)}" is not a resource name (letters, digits, _)` };
    if (!Array.isArray(actions) || actions.length === 0) {
      return { error: `${resource} must list its actions, e.g. ${resource.toUpperCase()}: [READ]` };
    }
    const names: string[] = [];
    for (const action of actions) {
      if (typeof action !== 'string' || (action !== '*' && !NAME.test(action))) {
        return { error: `${resource} has an action that is not a name (letters, digits, _) or *` };
      }
      const upper = action.toUpperCase();
      if (!names.includes(upper)) names.push(upper);
    }
    const key = resource.toUpperCase();
    if (Object.hasOwn(out, key)) return { error: `${key} is listed twice (names are case-insensitive)` };
    out[key] = names;
  }
  return { value: out };
}, 'map RESOURCE: [ACTIONS]');

/** `FLOW:READ`, `flow:read` or `FLOW:*` → upper-case `RESOURCE:ACTION`. */
export const permissionRequirement = field((v) => {
  const parts = typeof v === 'string' ? v.trim().split(':') : [];
  const [resource, action] = parts;
  if (parts.length !== 2 || !NAME.test(resource!) || (action !== '*' && !NAME.test(action!))) {
    return { error: 'must be RESOURCE:ACTION or RESOURCE:*, e.g. FLOW:READ' };
  }
  return { value: `${resource!.toUpperCase()}:${action!.toUpperCase()}` };
}, 'RESOURCE:ACTION');

/** Asymmetric JWS algorithms only: a bearer token is verified with the issuer's public keys. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
] as const;

export const algorithms = field((v) => {
  if (!Array.isArray(v) || v.length === 0) return { error: 'must be a non-empty list of JWS algorithms' };
  const out: string[] = [];
  for (const alg of v) {
    const name = typeof alg === 'string' ? alg.trim() : '';
    if (/^none$/i.test(name) || /^HS\d+$/i.test(name)) {
      return {
        error: `${name} is not accepted: "none" and shared-secret HS* algorithms would let anyone holding the secret, or nobody, sign tokens; use ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
      };
    }
    const known = ASYMMETRIC_ALGORITHMS.find((a) => a.toLowerCase() === name.toLowerCase());
    if (!known) return { error: `"${clip(name)}" is not a supported algorithm; use ${ASYMMETRIC_ALGORITHMS.join(', ')}` };
    if (!out.includes(known)) out.push(known);
  }
  return { value: out };
}, 'list of JWS algorithms');

/** OIDC client / provider name: it appears in `/oauth/login/<name>`. */
export const providerName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
