/**
 * Deciding a request for an identity given beside it, without its
 * credential: policy tests (`kestra-authz test`), decision replay
 * (`audit replay`) and shadow evaluation ask "what would the policy answer
 * this caller?". The engine is the one `serve` builds (buildEngine with
 * `givenIdentities`): only the credential check is answered from here, first
 * in the chain, so route, flow, authorize and respond decide exactly as in
 * production. A request without a given identity goes on down the real chain
 * (anonymous when it carries no credential).
 *
 * The identity is attached to the AuthRequest object itself (a WeakMap), so
 * nothing a client can send — no header, no cookie — can select one.
 */
import type { AuthRequest } from '../core/auth-request.js';
import type { Identity } from '../core/identity.js';
import { SKIP, type Authenticator, type AuthnResult } from './authenticator.js';

export class GivenIdentities implements Authenticator {
  /** In `explain` traces; the identity's own `via` stays as given. */
  readonly name = 'given' as const;
  readonly #byRequest = new WeakMap<AuthRequest, Identity>();

  /** Decides `req` as `identity` when it reaches the authenticate stage. */
  give(req: AuthRequest, identity: Identity): AuthRequest {
    this.#byRequest.set(req, Object.freeze({ ...identity, groups: Object.freeze([...identity.groups]) }));
    return req;
  }

  authenticate(req: AuthRequest): AuthnResult {
    const identity = this.#byRequest.get(req);
    return identity === undefined ? SKIP : { kind: 'ok', identity };
  }
}
