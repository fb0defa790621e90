import type { AuthRequest } from '../core/auth-request.js';
import type { Identity } from '../core/identity.js';
import type { AuthnFailureReason } from '../core/reasons.js';

/**
 * The one shape of every authentication stage (Oathkeeper-style):
 * - `skip`: this authenticator is not responsible (its credential is absent),
 *   the next one is tried;
 * - `ok`: the caller is known;
 * - `fail`: the credential is there but bad (or a dependency is down) — the
 *   chain stops here and the request is denied with `reason`.
 */
export type AuthnResult =
  | { readonly kind: 'skip' }
  | {
      readonly kind: 'ok';
      readonly identity: Identity;
      readonly responseHeaders?: ReadonlyArray<readonly [string, string]>;
      /**
       * The identity object was handed out before (a token-cache hit): answers
       * built for it are worth remembering. A fresh verification is not — a
       * flood of distinct tokens would only churn the memo.
       */
      readonly repeated?: boolean;
    }
  | {
      readonly kind: 'fail';
      readonly reason: AuthnFailureReason;
      /** Safe, secret-free description for WWW-Authenticate / JSON bodies. */
      readonly description: string;
      /** Challenge scheme for WWW-Authenticate. */
      readonly scheme: 'Bearer' | 'Basic';
    };

export interface Authenticator {
  readonly name: 'session' | 'bearer' | 'basic' | 'mtls' | 'given';
  /**
   * A plain result when it is known at once (no credential of this kind, a
   * cached token), a promise when it needs I/O or crypto: the decision then
   * runs without a promise hop on its hot path.
   */
  authenticate(req: AuthRequest): AuthnResult | Promise<AuthnResult>;
}

export const SKIP: AuthnResult = Object.freeze({ kind: 'skip' });
