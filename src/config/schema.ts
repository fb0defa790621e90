/**
 * The shape of a config file after key normalization (kebab-case) and after
 * unused Kestra/Micronaut keys were set aside (kestra-keys.ts). Checks each
 * value on its own; checks that relate several values (binding → role,
 * exactly one of user/group…) live in cross-checks.ts so they run even when
 * a sibling value is wrong, and every problem is reported at once.
 *
 * `authz:` objects are strict: an unknown key there is an error.
 */
import { z } from 'zod';
import * as f from './schema-fields.js';
import { algorithms, permissionMap, permissionRequirement, providerName } from './permission-fields.js';
import { parseCidr } from '../authn/source-address.js';
import { tracingSection } from './tracing-fields.js';
import { auditSection } from './audit-fields.js';
import { FORWARD_AUTH_TRUSTS, USERINFO_MODES } from './types.js';
import { IDENTITY_TOKEN_ALGORITHMS } from '../identity/signing-keys.js';

const RULE_ALLOW = ['public', 'authenticated', 'deny'] as const;

// A list (possibly empty) of IP addresses or CIDRs; the problem names the bad entry by index, never its value.
const cidrList = f.field((v) => {
  if (!Array.isArray(v)) return { error: 'must be a list of IP addresses or CIDRs (e.g. [10.0.0.0/8, "2001:db8::/32"])' };
  const bad = v.findIndex((entry) => typeof entry !== 'string' || parseCidr(entry) === undefined);
  return bad === -1 ? { value: v as string[] } : { error: `entry ${bad} is not an IP address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)` };
}, 'list of IPs / CIDRs');
import { LOG_FORMATS } from '../observability/log-format.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const role = z.strictObject({
  name: f.text,
  description: z.string().optional(),
  permissions: permissionMap.optional(),
});

const binding = z.strictObject({
  user: f.text.optional(),
  group: f.text.optional(),
  // a mesh workload (mTLS peer) by SPIFFE id or pattern (authz/spiffe-id.ts)
  service: f.principalPattern.optional(),
  role: f.text,
  namespace: f.namespace.optional(),
  'tenant-id': f.text.optional(),
});

const rule = z.strictObject({
  id: f.text.optional(),
  match: z.strictObject({
    methods: f.methods.optional(),
    path: f.pathTemplate,
    host: f.hostPattern.optional(),
    // the mTLS peer's SPIFFE id (authz/spiffe-id.ts)
    principals: f.principalPatterns.optional(),
  }),
  allow: f.oneOf(RULE_ALLOW).optional(),
  require: permissionRequirement.optional(),
  'namespace-from': f.oneOf(['query'] as const).optional(),
  shadow: f.bool.optional(),
  // the signed identity token's `aud` for requests this rule allows (identity/identity-tokens.ts)
  'identity-audience': f.text.optional(),
});

const tokenSource = z.strictObject({
  header: f.headerName.optional(),
  prefix: z.string().optional(),
  cookie: f.cookieName.optional(),
});

const bearerIssuer = z.strictObject({
  issuer: f.text,
  'jwks-uri': f.httpUrl.optional(),
  audiences: f.textList,
  algorithms: algorithms.optional(),
  from: z.array(tokenSource).min(1).optional(),
  'groups-claim-path': f.claimPath.optional(),
  'token-types': f.jwtTypeList.optional(),
  'accept-id-tokens': f.bool.optional(),
  'trust-email': f.bool.optional(),
});

const oidcClientExtras = z.strictObject({
  userinfo: f.oneOf(USERINFO_MODES).optional(),
  'private-key-file': f.text.optional(),
  'private-key-id': f.text.optional(),
});

const authz = z.strictObject({
  'external-url': f.httpUrl.optional(),
  // login flow
  oidc: z.strictObject({
    'allow-insecure-http-issuers': f.bool.optional(),
    'trust-email-clients': f.textList.optional(),
    'frontchannel-logout-sid-optional-clients': f.textList.optional(),
    // per login client (micronaut.security.oauth2.clients.<name>): what Micronaut has no key for
    clients: z.record(z.string().regex(providerName, { error: 'client names may hold letters, digits, ".", "_" and "-"' }), oidcClientExtras).optional(),
  }).optional(),
  // HTTP door: where Envoy's HTTP ext_authz service sends its checks (path_prefix),
  // and which proxy's headers describe a forward-auth request
  http: z.strictObject({
    'ext-authz-prefix': f.pathPrefix.optional(),
    'forward-auth': z.strictObject({ trust: f.oneOf(FORWARD_AUTH_TRUSTS).optional() }).optional(),
    // how long an idle proxy connection stays open (longer than the proxy's own idle timeout)
    'keep-alive-timeout': f.duration(1000).optional(),
    // the proxy's verified client certificate details (XFCC): the peer's principal
    'client-cert-header': f.headerName.optional(),
  }).optional(),
  listen: z
    .strictObject({ grpc: f.hostPort.optional(), http: f.hostPort.optional(), management: f.hostPort.optional() })
    .optional(),
  bearer: z
    .strictObject({
      issuers: z.array(bearerIssuer).optional(),
      'clock-skew': f.duration().optional(),
      'jwks-max-age': f.duration(1).optional(),
      'jwks-cooldown': f.duration().optional(),
      'jwks-timeout': f.duration(1).optional(),
    })
    .optional(),
  users: z
    .strictObject({
      store: f.oneOf(['file', 'postgres']).optional(),
      file: f.text.optional(),
      url: f.storeUrl(['postgres:', 'postgresql:']).optional(),
    })
    .optional(),
  sessions: z
    .strictObject({
      store: f.oneOf(['cookie', 'redis']).optional(),
      url: f.storeUrl(['redis:', 'rediss:']).optional(),
      prefix: z.string().optional(),
      revocations: z
        .strictObject({
          store: f.oneOf(['memory', 'redis']).optional(),
          url: f.storeUrl(['redis:', 'rediss:']).optional(),
          prefix: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
  roles: z.array(role).optional(),
  bindings: z.array(binding).optional(),
  rules: z.array(rule).optional(),
  shadow: f.text.optional(),
  'kestra-rules': f.bool.optional(),
  default: f.oneOf(RULE_ALLOW).optional(),
  'user-claims': f.textList.optional(),
  headers: z
    .strictObject({
      user: f.headerName.optional(),
      email: f.headerName.optional(),
      groups: f.headerName.optional(),
      tenant: f.headerName.optional(),
      identity: f.headerName.optional(),
    })
    .optional(),
  'token-cache-size': f.integer(0).optional(),
  // the signed identity token for upstreams (src/identity/)
  'identity-token': z
    .strictObject({
      enabled: f.bool.optional(),
      header: f.headerName.optional(),
      algorithm: f.oneOf(IDENTITY_TOKEN_ALGORITHMS).optional(),
      'key-file': f.text.optional(),
      ttl: f.duration(1000).optional(),
      audience: f.text.optional(),
    })
    .optional(),
  // per-address brute-force limits (src/authn/source-lockout.ts)
  'source-lockout': z
    .strictObject({
      enabled: f.bool.optional(),
      threshold: f.integer(1).optional(),
      'monitoring-window': f.duration(1).optional(),
      'lock-duration': f.duration(1).optional(),
      exempt: cidrList.optional(),
    })
    .optional(),
  log: z.strictObject({ level: f.oneOf(LOG_LEVELS).optional(), format: f.oneOf(LOG_FORMATS).optional() }).optional(),
  tracing: tracingSection.optional(),
  audit: auditSection.optional(),
});

const defaultRole = z.object({
  name: f.text,
  description: z.string().optional(),
  permissions: permissionMap.optional(),
  'tenant-id': f.text.optional(),
});

const kestra = z.object({
  encryption: z.object({ 'secret-key': f.secret.optional() }).optional(),
  security: z
    .object({
      'default-role': defaultRole.optional(),
      oidc: z.object({ 'groups-claim-path': f.claimPath.optional() }).optional(),
      'basic-auth': z.object({ enabled: f.bool.optional() }).optional(),
      login: z
        .object({
          'failed-attempts': z
            .object({
              threshold: f.integer(1).optional(),
              'monitoring-window': f.duration(1).optional(),
              'lock-duration': f.duration(1).optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

// OIDC `prompt`: one value or several separated by spaces (`login consent`).
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const prompt = f.field((v) => {
  const words = typeof v === 'string' ? v.trim().toLowerCase().split(/\s+/) : [];
  return words.length && words.every((w) => PROMPTS.has(w))
    ? { value: words.join(' ') }
    : { error: 'must be none, login, consent or select_account (several separated by spaces)' };
}, 'none | login | consent | select_account (space-separated)');

const oidcClient = z.object({
  'client-id': f.text.optional(),
  'client-secret': f.text.optional(),
  scopes: f.textList.optional(),
  token: z.object({ 'auth-method': f.clientAuthMethod.optional() }).optional(),
  openid: z
    .object({
      issuer: f.httpUrl.optional(),
      'end-session': z.object({ enabled: f.bool.optional() }).optional(),
      authorization: z.object({ prompt: prompt.optional() }).optional(),
    })
    .optional(),
});

const micronaut = z.object({
  security: z
    .object({
      token: z
        .object({
          jwt: z
            .object({
              signatures: z
                .object({ secret: z.object({ generator: z.object({ secret: f.secret.optional() }).optional() }).optional() })
                .optional(),
              generator: z.object({ 'refresh-token': z.object({ secret: f.secret.optional() }).optional() }).optional(),
            })
            .optional(),
          cookie: z
            .object({
              'cookie-max-age': f.duration(1000).optional(),
              'cookie-name': f.cookieName.optional(),
              'cookie-secure': f.bool.optional(),
              'cookie-same-site': f.oneOf(['lax', 'strict', 'none']).optional(),
              'cookie-domain': f.cookieDomain.optional(),
              'cookie-path': f.cookiePath.optional(),
            })
            .optional(),
        })
        .optional(),
      oauth2: z
        .object({
          enabled: f.bool.optional(),
          clients: z
            .record(z.string().regex(providerName, { error: 'client names may hold letters, digits, ".", "_" and "-"' }), oidcClient)
            .optional(),
        })
        .optional(),
      endpoints: z.object({ logout: z.object({ 'get-allowed': f.bool.optional() }).optional() }).optional(),
    })
    .optional(),
});

export const configSchema = z.object({
  kestra: kestra.optional(),
  micronaut: micronaut.optional(),
  authz: authz.optional(),
});

/** The validated file, still in YAML shape (kebab-case keys); build-config.ts maps it to `Config`. */
export type ConfigFile = z.output<typeof configSchema>;
