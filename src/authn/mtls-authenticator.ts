/**
 * The last link of the chain: a mesh workload calling with no user
 * credential, known by the SPIFFE id of its mTLS certificate
 * (AuthRequest.peerPrincipal, which only Envoy — or the proxy-set header the
 * operator named — can fill).
 *
 * Last, so a user credential always decides identity: when a gateway's
 * sidecar forwards a user's token, the principal is the gateway's and the
 * caller is the user; the principal then only takes part in rule matching
 * (`match.principals`). And only a workload the policy names — a `service`
 * binding or a rule's `principals` — is authenticated at all: any other
 * workload of the mesh stays anonymous (401), so `allow: authenticated` does
 * not open to every pod holding a mesh certificate.
 */
import { bindsService, type AccessPolicy } from '../authz/access-policy.js';
import { firstMatchingPattern, type PrincipalPattern } from '../authz/spiffe-id.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Identity } from '../core/identity.js';
import { SKIP, type Authenticator, type AuthnResult } from './authenticator.js';

/** Identities handed out, kept per principal (few workloads) so a repeated caller reuses its answer. */
const MAX_REMEMBERED = 1024;

export class MtlsAuthenticator implements Authenticator {
  readonly name = 'mtls' as const;
  readonly #access: AccessPolicy;
  readonly #rulePatterns: readonly PrincipalPattern[];
  readonly #known = new Map<string, AuthnResult>();

  constructor(access: AccessPolicy, rulePatterns: readonly PrincipalPattern[]) {
    this.#access = access;
    this.#rulePatterns = rulePatterns;
  }

  /** Whether the policy names `principal` anywhere (a service binding or a rule's principals). */
  names(principal: string): boolean {
    return bindsService(this.#access, principal) || firstMatchingPattern(this.#rulePatterns, principal) !== undefined;
  }

  authenticate(req: AuthRequest): AuthnResult {
    const principal = req.peerPrincipal;
    if (principal === '') return SKIP;
    const known = this.#known.get(principal);
    if (known !== undefined) return known;
    const result: AuthnResult = this.names(principal) ? { kind: 'ok', identity: serviceIdentity(principal), repeated: true } : SKIP;
    if (this.#known.size >= MAX_REMEMBERED) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(principal, result);
    return result;
  }
}

/** A workload's identity: its SPIFFE id as name and subject, no groups (bindings grant it roles directly). */
export function serviceIdentity(principal: string): Identity {
  return Object.freeze({ via: 'mtls' as const, subject: principal, name: principal, groups: Object.freeze([]) as readonly string[] });
}
