/**
 * How a login client authenticates at the IdP's token endpoint (code
 * exchange and refresh): `micronaut.security.oauth2.clients.<name>.token.auth-method`,
 * or, when unset, a choice from the IdP's `token_endpoint_auth_methods_supported`
 * (RFC 8414: absent = `client_secret_basic` only):
 *
 * - with a client secret: `client_secret_post`, else `client_secret_basic`,
 *   else `client_secret_jwt`. Post first: RFC 6749 §2.3.1 has the client
 *   form-encode id and secret before HTTP Basic, and several IdPs
 *   (LemonLDAP::NG 2.16 among them) do not decode them, so a client id or
 *   secret with reserved characters fails under Basic; in a form body the
 *   encoding is unambiguous. It is also openid-client's own default;
 * - with only a private key: `private_key_jwt`;
 * - with neither: `none` (a public client; PKCE protects the code).
 */
import * as oidc from 'openid-client';
import type { ClientAuthMethod, OidcProviderConfig } from '../config/types.js';
import { loadClientKey } from './client-key.js';

const SECRET_PREFERENCE: readonly ClientAuthMethod[] = ['client_secret_post', 'client_secret_basic', 'client_secret_jwt'];

/** The method to use with this IdP: the configured one, else the best the IdP supports for the credential we hold. */
export function chooseAuthMethod(settings: OidcProviderConfig, supported: readonly string[] | undefined): ClientAuthMethod {
  if (settings.authMethod) return settings.authMethod;
  const offered = supported?.length ? supported : ['client_secret_basic'];
  if (settings.clientSecret !== undefined) {
    const pick = SECRET_PREFERENCE.find((m) => offered.includes(m));
    if (pick) return pick;
    if (settings.privateKeyFile !== undefined && offered.includes('private_key_jwt')) return 'private_key_jwt';
    // The IdP lists nothing we can do with a secret; Basic is what RFC 6749 requires every server to take.
    return 'client_secret_basic';
  }
  if (settings.privateKeyFile !== undefined) return 'private_key_jwt';
  return 'none';
}

/** openid-client's client authentication for `method`; loads the private key for private_key_jwt (rejects with ClientKeyError). */
export async function clientAuthFor(settings: OidcProviderConfig, method: ClientAuthMethod): Promise<oidc.ClientAuth> {
  switch (method) {
    case 'client_secret_post':
      return oidc.ClientSecretPost(settings.clientSecret);
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(settings.clientSecret);
    case 'client_secret_jwt':
      return oidc.ClientSecretJwt(settings.clientSecret);
    case 'private_key_jwt': {
      const { key, kid } = await loadClientKey(settings.privateKeyFile!, settings.privateKeyId);
      return oidc.PrivateKeyJwt(kid === undefined ? key : { key, kid });
    }
    case 'none':
      return oidc.None();
  }
}
