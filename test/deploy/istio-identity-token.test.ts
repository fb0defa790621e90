/**
 * deploy/istio/identity-token.yaml: the objects pass the
 * @kubernetes-models/istio schemas with no unknown field; they agree with
 * deploy/k8s, the other Istio files and the deployed config (issuer =
 * external-url, audience = its host, jwksUri = the management port of the
 * kestra-authz Service, open to istiod, header = the token's); and a token
 * the real service (deployed config, identity token on) sets on an allow
 * is verified with jose against the JWKS it serves exactly as that
 * RequestAuthentication would: header named by fromHeaders, no prefix,
 * issuer, audiences, the ALLOW policy's requestPrincipals. Forged, foreign
 * and other-audience tokens are refused the same way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { stringify } from 'yaml';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { loadConfigFile } from '../../src/config/load-config.js';
import { DEFAULTS } from '../../src/config/config-defaults.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { JWKS_PATH } from '../../src/identity/jwks-endpoint.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { createAuthzClient, headerOf, type AuthzClient } from '../helpers/grpc-client.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { loadManifests, only, selects } from './manifests.js';
import { extensionProviders } from './mesh-config-schema.js';
import { containerEnv, deployedConfig, offlineDeployedConfigTree, service } from './k8s-objects.js';
import { validateStrict } from './strict-model.js';

const FILE = 'deploy/istio/identity-token.yaml';
const objects = loadManifests([FILE]);
const edgePolicy = only(objects, 'AuthorizationPolicy', 'kestra-edge-ext-authz');
const requestAuthn = only(objects, 'RequestAuthentication', 'kestra-identity-token');
const requirePolicy = only(objects, 'AuthorizationPolicy', 'kestra-require-identity-token');
const others = loadManifests(['deploy/istio/meshconfig-extension-providers.yaml', 'deploy/istio/authorization-policy.yaml', 'deploy/istio/authz-service-policy.yaml']);
const providers = extensionProviders.parse(only(others, 'IstioOperator').spec.meshConfig.extensionProviders);
const kestraPolicy = only(others, 'AuthorizationPolicy', 'kestra-ext-authz');
const peerAuth = only(others, 'PeerAuthentication', 'kestra-authz');
const callersPolicy = only(others, 'AuthorizationPolicy', 'kestra-authz-callers');
const config = deployedConfig();
const rule = requestAuthn.spec.jwtRules[0];

/** Istio's string match for principals: exact, `prefix*`, `*suffix` or `*`. */
function istioMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return value !== '';
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

describe('deploy/istio/identity-token.yaml', () => {
  test('every object passes the @kubernetes-models/istio schema, no unknown field', () => {
    assert.equal(objects.length, 3);
    for (const m of objects) {
      const model = m.kind === 'RequestAuthentication' ? new RequestAuthentication(m as any) : new AuthorizationPolicy(m as any);
      assert.deepEqual(validateStrict(model), [], `${m.kind} ${m.metadata.name}`);
    }
    // The check bites: a misspelt jwtRules field.
    const typo = structuredClone(requestAuthn) as any;
    typo.spec.jwtRules[0].fromHeader = typo.spec.jwtRules[0].fromHeaders;
    assert.deepEqual(validateStrict(new RequestAuthentication(typo)), ['spec.jwtRules[0].fromHeader']);
  });

  test('issuer, audience and header are the deployed config\'s: external-url, its host, the token header without prefix', () => {
    assert.equal(requestAuthn.spec.jwtRules.length, 1);
    assert.equal(rule.issuer, config.externalUrl);
    assert.deepEqual(rule.audiences, [new URL(config.externalUrl!).hostname]);
    assert.deepEqual(rule.fromHeaders, [{ name: DEFAULTS.identityToken.header }]);
    assert.equal(config.identityToken.header, DEFAULTS.identityToken.header);
    assert.equal(rule.forwardOriginalToken, true);
    assert.equal(rule.fromParams, undefined, 'never from a query parameter');
  });

  test('jwksUri is the kestra-authz Service\'s management port, open to callers without mTLS (istiod) for GET of that path', () => {
    const uri = new URL(rule.jwksUri);
    assert.equal(uri.protocol, 'http:');
    assert.equal(uri.hostname, `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
    assert.equal(uri.pathname, JWKS_PATH);
    const port = service.spec.ports.find((p: any) => p.port === Number(uri.port));
    assert.ok(port, `Service port ${uri.port}`);
    assert.equal(port.targetPort, 'management');
    assert.equal(config.listen.management.port, Number(uri.port));
    assert.equal(peerAuth.spec.portLevelMtls[uri.port].mode, 'PERMISSIVE');
    const open = callersPolicy.spec.rules.find((r: any) => !r.from).to[0].operation;
    assert.deepEqual(open.ports, [uri.port]);
    assert.ok(open.methods.includes('GET'));
    assert.ok(open.paths.includes(JWKS_PATH));
  });

  test('the ALLOW policy requires a token of that issuer on the workload the RequestAuthentication covers; the edge adds it', () => {
    assert.deepEqual(requirePolicy.spec.selector, requestAuthn.spec.selector);
    assert.equal(requirePolicy.metadata.namespace, requestAuthn.metadata.namespace);
    assert.equal(requirePolicy.spec.action, 'ALLOW');
    const api = requirePolicy.spec.rules[0];
    assert.deepEqual(api.from[0].source.requestPrincipals, [`${rule.issuer}/*`]);
    // The same workload as the CUSTOM policy on Kestra's sidecar, and its API port.
    assert.deepEqual(requestAuthn.spec.selector.matchLabels, kestraPolicy.spec.selector.matchLabels);
    assert.deepEqual(api.to[0].operation.ports, kestraPolicy.spec.rules[0].to[0].operation.ports);
    // The edge: a CUSTOM policy on the ingress gateway for the external host, with a defined provider.
    assert.equal(edgePolicy.spec.action, 'CUSTOM');
    assert.ok(providers.some((p) => p.name === edgePolicy.spec.provider.name));
    assert.ok(selects(edgePolicy.spec.selector.matchLabels, { istio: 'ingressgateway' }));
    assert.deepEqual(edgePolicy.spec.rules[0].to[0].operation.hosts, [new URL(config.externalUrl!).host]);
    // The HTTP provider, if chosen instead, passes the header upstream.
    const http = providers.find((p) => p.envoyExtAuthzHttp)!.envoyExtAuthzHttp!;
    assert.ok(http.headersToUpstreamOnAllow?.includes(rule.fromHeaders[0].name));
  });
});

describe('our token, verified as the RequestAuthentication verifies it (real service, deployed config)', () => {
  let dir: string;
  let running: RunningService;
  let client: AuthzClient;
  /** jwksUri, pointed at the running service's management port. */
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  const host = new URL(config.externalUrl!).host;
  const basic = `Basic ${Buffer.from('ops:correct-horse-1').toString('base64')}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-istio-token-'));
    // The deployed config offline (k8s-objects.ts), plus the identity token on.
    const tree = offlineDeployedConfigTree(dir);
    tree.authz['identity-token'] = { enabled: true };
    const path = join(dir, 'config.yaml');
    await writeFile(path, stringify(tree));
    await createUsersWithCli(path, ['--username', 'ops', '--password', 'correct-horse-1', '--groups', 'developer']);
    running = await startService(await loadConfigFile(path, containerEnv()), { logger: createLogger('silent') });
    client = createAuthzClient(running.grpcPort);
    const uri = new URL(rule.jwksUri);
    jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${running.managementPort}${uri.pathname}`));
  });
  after(async () => {
    client?.close();
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** What jwt_authn + the ALLOW policy decide for the upstream request's headers. */
  async function istioVerdict(headers: Record<string, string>): Promise<'allow' | 'deny'> {
    const value = headers[rule.fromHeaders[0].name];
    if (value === undefined) return 'deny'; // no token: RequestAuthentication passes it, the ALLOW policy does not
    const token = rule.fromHeaders[0].prefix ? value.slice(rule.fromHeaders[0].prefix.length) : value;
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer: rule.issuer, audience: rule.audiences });
      const principal = `${payload.iss}/${payload.sub}`;
      return requirePolicy.spec.rules[0].from[0].source.requestPrincipals.some((p: string) => istioMatches(p, principal)) ? 'allow' : 'deny';
    } catch {
      return 'deny';
    }
  }

  /** The gateway's Check for a request to the external host; the upstream headers it results in. */
  async function throughGateway(headers: Record<string, string>, path = '/api/v1/main/flows/company.team/hello'): Promise<Record<string, string>> {
    const res = await client.check(envoyCheckRequest({ method: 'GET', path, host, scheme: 'https', headers: { accept: 'application/json', ...headers } }));
    assert.ok(res.ok_response, JSON.stringify(res).slice(0, 300));
    const upstream: Record<string, string> = { ...headers };
    for (const name of res.ok_response.headers_to_remove ?? []) delete upstream[name];
    for (const h of res.ok_response.headers ?? []) upstream[h.header.key] = h.header.value;
    return upstream;
  }

  test('an allowed request reaches the upstream with a token Istio accepts; so does a public page without credentials', async () => {
    const upstream = await throughGateway({ authorization: basic });
    assert.equal(await istioVerdict(upstream), 'allow');
    // Kestra's UI assets are public (built-in rules): the anonymous token keeps them reachable behind the ALLOW policy.
    const page = await throughGateway({}, '/ui/main/flows');
    assert.equal(await istioVerdict(page), 'allow');
  });

  test('a client\'s own token in the header is replaced: forged, foreign-key and other-audience tokens never decide', async () => {
    const own = await generateKeyPair('ES256');
    const forged = await new SignJWT({ name: 'admin' }).setProtectedHeader({ alg: 'ES256' }).setIssuer(rule.issuer).setAudience(rule.audiences[0])
      .setSubject('admin').setIssuedAt().setExpirationTime('5m').sign(own.privateKey);
    // Directly at the upstream (no gateway): Istio refuses it.
    assert.equal(await istioVerdict({ [rule.fromHeaders[0].name]: forged }), 'deny');
    assert.equal(await istioVerdict({}), 'deny');
    // Through the gateway: replaced by ours, which is accepted.
    const upstream = await throughGateway({ authorization: basic, [rule.fromHeaders[0].name]: forged });
    assert.notEqual(upstream[rule.fromHeaders[0].name], forged);
    assert.equal(await istioVerdict(upstream), 'allow');
    // One of ours for another audience (a rule's identity-audience elsewhere) is refused here.
    const elsewhere = await client.check(envoyCheckRequest({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', host: 'other.example.com', scheme: 'https', headers: { accept: 'application/json', authorization: basic } }));
    const foreignAud = headerOf(elsewhere.ok_response?.headers, rule.fromHeaders[0].name);
    assert.ok(foreignAud);
    assert.equal(await istioVerdict({ [rule.fromHeaders[0].name]: foreignAud }), 'deny');
    // With a "Bearer " prefix (not configured): refused, as jwt_authn would.
    assert.equal(await istioVerdict({ [rule.fromHeaders[0].name]: `Bearer ${upstream[rule.fromHeaders[0].name]}` }), 'deny');
  });
});
