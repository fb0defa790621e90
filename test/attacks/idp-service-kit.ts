/**
 * The real service behind a real OpenID Provider (oidc-provider over HTTPS)
 * that is at once its login provider `idp-a` (with back-channel logout) and a
 * trusted Bearer issuer — so tokens the IdP signs for other purposes (logout
 * tokens, ID tokens) can be presented as Bearer tokens — plus any further
 * Bearer issuers a test configures.
 *
 * Bindings: `fay` and `boss@example.com` hold `admin`; nobody else holds
 * anything (no default role), so ADMIN_ONLY (a DELETE, FLOW:DELETE) is the
 * route that tells whether a binding applied. `/app/**` only needs a login.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, importJWK, type JWK, type JWTPayload } from 'jose';
import type { ReasonCode } from '../../src/core/reasons.js';
import { AT_EXTERNAL_URL, EXTERNAL_URL, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { startOidcIdp, type IdpUserClaims, type OidcIdp } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, TEST_CLIENT as CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';
import { countedAs, expectRefused } from './attack-kit.js';

export { CLIENT };
/** Needs FLOW:DELETE: only the admin bindings grant it (no default role). */
export const ADMIN_ONLY = '/api/v1/main/flows/company.team/hello';
export const API = { accept: 'application/json' };
export const DAY = 24 * 3600;

export interface IdpServiceOptions {
  /** Tag of the IdP's cookies (one per test file). */
  readonly name: string;
  readonly users?: Readonly<Record<string, IdpUserClaims>>;
  /** Further `authz.bearer.issuers` entries. */
  readonly issuers?: readonly Record<string, unknown>[];
}

export interface IdpService {
  readonly idp: OidcIdp;
  readonly door: GrpcDoor;
  /** Base URL of the HTTP door. */
  readonly httpDoor: string;
  now(): number;
  /** Signs `claims` with the IdP's own key, as the IdP signs its tokens (header `typ: JWT` unless given). */
  signedByIdp(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** An access token of the IdP for `sub`, valid for 10 minutes. */
  accessClaims(extra?: JWTPayload): JWTPayload;
  /** The admin-only DELETE through the gRPC door. */
  deleteWith(token: string): Promise<CheckResponseJs>;
  /** The same through the HTTP door (Envoy HTTP ext_authz path). */
  httpDeleteWith(token: string): Promise<Response>;
  /** 401 with `reason`, counted once under it (gRPC door). */
  refused(token: string, reason: ReasonCode): Promise<void>;
  /** Starts one more service on the same IdP with `authz.oidc` set (stop it yourself). */
  startVariant(file: string, oidc: Record<string, unknown>): Promise<GrpcDoor>;
  close(): Promise<void>;
}

export async function startIdpService(options: IdpServiceOptions): Promise<IdpService> {
  assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
  const dir = await mkdtemp(join(tmpdir(), `kauthz-${options.name}-`));
  const idp = await startOidcIdp({
    name: options.name,
    clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL_URL}/oauth/callback/idp-a`] }],
    users: options.users,
  });

  const writeConfig = async (file: string, oidc?: Record<string, unknown>): Promise<string> => {
    const path = join(dir, file);
    await writeFile(path, oidcServiceYaml({
      secret: 'idp-service-kit-secret-0123456789abcdef',
      externalUrl: EXTERNAL_URL,
      dir,
      providers: { 'idp-a': idp },
      scopes: PROFILE_SCOPES,
      authz: {
        bearer: {
          'clock-skew': '60s',
          // Logout and ID tokens are addressed to the login client: their aud is the client id.
          issuers: [{ issuer: idp.issuer, audiences: [CLIENT.client_id] }, ...(options.issuers ?? [])],
        },
        rules: [{ match: { path: '/app/**' }, allow: 'authenticated' }],
        bindings: [{ user: 'fay', role: 'admin' }, { user: 'boss@example.com', role: 'admin' }],
        ...(oidc ? { oidc } : {}),
      },
    }));
    return path;
  };

  const door = await startGrpcDoor(await writeConfig('config.yaml'), AT_EXTERNAL_URL);
  const httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
  const now = () => Math.floor(Date.now() / 1000);
  const deleteWith = (token: string) => door.check({ method: 'DELETE', path: ADMIN_ONLY, headers: { ...API, authorization: `Bearer ${token}` } });

  return {
    idp,
    door,
    httpDoor,
    now,
    async signedByIdp(claims, header = { typ: 'JWT' }) {
      const jwk = idp.signingKey as JWK & { kid: string };
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid, ...header }).sign(await importJWK(jwk, 'RS256'));
    },
    accessClaims: (extra = {}) => ({ iss: idp.issuer, aud: CLIENT.client_id, sub: 'fay', iat: now(), exp: now() + 600, ...extra }),
    deleteWith,
    httpDeleteWith: (token) =>
      fetch(`${httpDoor}/ext_authz${ADMIN_ONLY}`, { method: 'DELETE', headers: { ...API, authorization: `Bearer ${token}` } }),
    async refused(token, reason) {
      expectRefused(await countedAs(reason, () => deleteWith(token)), 401, reason);
    },
    startVariant: async (file, oidc) => startGrpcDoor(await writeConfig(file, oidc), AT_EXTERNAL_URL),
    async close() {
      await door.close();
      await idp.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
