/**
 * deploy/istio: every object passes the schema @kubernetes-models/istio ships
 * (plus an unknown-field check), the mesh config's extension providers pass
 * a strict transcription of Istio's MeshConfig.ExtensionProvider, the
 * providers agree with deploy/k8s and the service's config (FQDN, ports,
 * path prefix, identity headers), and the HTTP provider's header lists,
 * applied the way a sidecar applies them, carry a real login, allow and
 * denial through the real HTTP door.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1/IstioOperator';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import { loadConfigFile } from '../../src/config/load-config.js';
import { compileHeaderPolicy } from '../../src/core/header-policy.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { checkThroughHttpProvider, type ClientRequest, type Outcome } from './istio-http-ext-authz.js';
import { loadDocuments, loadManifests, only, selects, type Manifest } from './manifests.js';
import { anyMatches, extensionProviders, type ExtensionProvider, type HttpProvider } from './mesh-config-schema.js';
import { container, containerEnv, deployedConfig, deployment, k8s, offlineDeployedConfigTree, service } from './k8s-objects.js';
import { validateStrict } from './strict-model.js';

const ISTIO_FILES = [
  'deploy/istio/meshconfig-extension-providers.yaml',
  'deploy/istio/authorization-policy.yaml',
  'deploy/istio/authz-service-policy.yaml',
  'deploy/istio/destination-rule.yaml',
] as const;

const istio: Manifest[] = loadManifests(ISTIO_FILES);
const operator = only(istio, 'IstioOperator');
const customPolicy = only(istio, 'AuthorizationPolicy', 'kestra-ext-authz');
const callersPolicy = only(istio, 'AuthorizationPolicy', 'kestra-authz-callers');
const peerAuth = only(istio, 'PeerAuthentication', 'kestra-authz');
const destinationRule = only(istio, 'DestinationRule', 'kestra-authz');
const helmValues = loadDocuments('deploy/istio/meshconfig-values.yaml');

const providers: ExtensionProvider[] = operator.spec.meshConfig.extensionProviders;
const grpcProvider = providers.find((p) => p.name === 'kestra-authz-grpc')?.envoyExtAuthzGrpc;
const httpProvider = providers.find((p) => p.name === 'kestra-authz-http')?.envoyExtAuthzHttp as HttpProvider;
const config = deployedConfig();
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;

function containerPort(name: string): number {
  const port = container.ports.find((p: any) => p.name === name);
  assert.ok(port, `container port ${name}`);
  return port.containerPort;
}

function servicePort(name: string): { port: number; targetPort: number } {
  const port = service.spec.ports.find((p: any) => p.name === name);
  assert.ok(port, `Service port ${name}`);
  return { port: port.port, targetPort: typeof port.targetPort === 'number' ? port.targetPort : containerPort(port.targetPort) };
}

describe('deploy/istio objects pass the @kubernetes-models/istio schemas', () => {
  for (const m of istio) {
    test(`${m.file}: ${m.kind} ${m.metadata.name}`, () => {
      switch (m.kind) {
        case 'IstioOperator':
          // The CRD keeps `spec` free-form: the schema checks only the envelope,
          // meshConfig is checked against Istio's proto below.
          new IstioOperator(m as any).validate();
          return;
        case 'AuthorizationPolicy':
          assert.deepEqual(validateStrict(new AuthorizationPolicy(m as any)), [], 'fields unknown to the schema');
          return;
        case 'PeerAuthentication':
          assert.deepEqual(validateStrict(new PeerAuthentication(m as any)), [], 'fields unknown to the schema');
          return;
        case 'DestinationRule':
          assert.deepEqual(validateStrict(new DestinationRule(m as any)), [], 'fields unknown to the schema');
          return;
        default:
          assert.fail(`unexpected kind ${m.kind} in deploy/istio`);
      }
    });
  }

  test('…and the checks bite: a wrong enum value and a misspelt field are both caught', () => {
    assert.throws(() => new AuthorizationPolicy({ ...customPolicy, spec: { ...customPolicy.spec, action: 'EXTERNAL' } } as any).validate(), /action/);
    const typo = structuredClone(customPolicy) as any;
    typo.spec.rules[0].to[0].operation.pahts = ['/'];
    assert.deepEqual(validateStrict(new AuthorizationPolicy(typo)), ['spec.rules[0].to[0].operation.pahts']);
  });
});

describe('meshConfig.extensionProviders match Istio\'s MeshConfig.ExtensionProvider', () => {
  test('the IstioOperator\'s providers pass the strict schema', () => {
    const result = extensionProviders.safeParse(providers);
    assert.ok(result.success, JSON.stringify(result.error?.issues, null, 2));
    assert.deepEqual(providers.map((p) => p.name), ['kestra-authz-grpc', 'kestra-authz-http']);
  });

  test('the Helm values file holds exactly the same providers (and nothing else)', () => {
    assert.equal(helmValues.length, 1);
    assert.deepEqual(Object.keys(helmValues[0]), ['meshConfig']);
    assert.deepEqual(Object.keys(helmValues[0].meshConfig), ['extensionProviders']);
    assert.deepEqual(helmValues[0].meshConfig.extensionProviders, providers);
  });

  test('…and the schema bites: "500ms", a misspelt field, two kinds in one entry are rejected', () => {
    const bad = (mutate: (p: any) => void): boolean => {
      const copy = structuredClone(providers) as any[];
      mutate(copy);
      return extensionProviders.safeParse(copy).success;
    };
    assert.equal(bad(() => {}), true);
    assert.equal(bad((p) => { p[0].envoyExtAuthzGrpc.timeout = '500ms'; }), false);
    assert.equal(bad((p) => { p[1].envoyExtAuthzHttp.headersToUpstreamOnAlow = ['x-kestra-user']; }), false);
    assert.equal(bad((p) => { p[1].envoyExtAuthzGrpc = p[0].envoyExtAuthzGrpc; }), false);
    assert.equal(bad((p) => { p[0].envoyExtAuthzGrpc.port = '9191'; }), false);
  });

  test('both doors fail closed with 503 and no deprecated fields', () => {
    for (const p of [grpcProvider, httpProvider]) {
      assert.ok(p);
      assert.equal(p.failOpen, false);
      assert.equal(p.statusOnError, '503');
    }
    assert.equal(httpProvider.includeHeadersInCheck, undefined);
  });
});

describe('Istio, deploy/k8s and the service config agree', () => {
  const fqdn = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;

  test('providers name the kestra-authz Service by its FQDN', () => {
    assert.equal(grpcProvider?.service, fqdn);
    assert.equal(httpProvider.service, fqdn);
  });

  test('the gRPC provider\'s port is the Service\'s grpc port, which reaches the configured gRPC listener', () => {
    const grpc = servicePort('grpc');
    assert.equal(grpcProvider?.port, grpc.port);
    assert.equal(grpc.targetPort, config.listen.grpc.port);
    assert.equal(service.spec.ports.find((p: any) => p.name === 'grpc').appProtocol, 'grpc');
  });

  test('the HTTP provider\'s port and pathPrefix are the HTTP door\'s', () => {
    const http = servicePort('http');
    assert.equal(httpProvider.port, http.port);
    assert.equal(http.targetPort, config.listen.http.port);
    assert.equal(httpProvider.pathPrefix, config.http.extAuthzPrefix);
  });

  test('the DestinationRule keeps connections to both doors alive, idle-closed before the door closes them', () => {
    assert.equal(destinationRule.spec.host, fqdn);
    assert.equal(destinationRule.metadata.namespace, service.metadata.namespace);
    const seconds = (d: string) => { assert.match(d, /^\d+s$/); return Number(d.slice(0, -1)); };
    const levels = [destinationRule.spec.trafficPolicy.connectionPool, ...destinationRule.spec.trafficPolicy.portLevelSettings.map((p: any) => p.connectionPool)];
    for (const pool of levels) {
      assert.ok(seconds(pool.http.idleTimeout) * 1000 < config.http.keepAliveTimeoutMs, `idleTimeout ${pool.http.idleTimeout} < the door's keep-alive`);
      assert.equal(pool.http.maxRequestsPerConnection, 0, 'no per-connection request cap: reuse until idle');
    }
    const portSettings = (port: number) => destinationRule.spec.trafficPolicy.portLevelSettings.find((p: any) => p.port.number === port);
    assert.ok(portSettings(servicePort('grpc').port), 'the gRPC door\'s port has its settings');
    assert.equal(portSettings(servicePort('http').port)?.connectionPool.http.h2UpgradePolicy, 'DO_NOT_UPGRADE', 'the HTTP door speaks HTTP/1.1 only');
    assert.equal(destinationRule.spec.trafficPolicy.tls, undefined, 'automatic mTLS stays in charge');
  });

  test('every identity header the service sets goes upstream on allow; so does the cleaned Cookie', () => {
    const identity = compileHeaderPolicy(config).identityHeaders;
    assert.ok(identity.length >= 4);
    for (const header of [...identity, 'cookie']) {
      assert.ok(anyMatches(httpProvider.headersToUpstreamOnAllow, header), `${header} in headersToUpstreamOnAllow`);
    }
  });

  test('login redirects and challenges reach the browser; a refreshed cookie too', () => {
    for (const header of ['set-cookie', 'location', 'www-authenticate', 'content-type']) {
      assert.ok(anyMatches(httpProvider.headersToDownstreamOnDeny, header), `${header} on deny`);
    }
    assert.ok(anyMatches(httpProvider.headersToDownstreamOnAllow, 'set-cookie'));
  });

  test('the CUSTOM policy uses a defined provider and never selects kestra-authz itself', () => {
    assert.equal(customPolicy.spec.action, 'CUSTOM');
    assert.ok(providers.some((p) => p.name === customPolicy.spec.provider.name), `provider ${customPolicy.spec.provider.name} is defined`);
    assert.equal(selects(customPolicy.spec.selector.matchLabels, podLabels), false, 'a CUSTOM policy on kestra-authz would send its own checks to itself');
  });

  test('kestra-authz\'s own policies select its pods and name its container ports', () => {
    assert.ok(selects(callersPolicy.spec.selector.matchLabels, podLabels));
    assert.ok(selects(peerAuth.spec.selector.matchLabels, podLabels));
    assert.equal(callersPolicy.metadata.namespace, deployment.metadata.namespace);
    assert.equal(peerAuth.metadata.namespace, deployment.metadata.namespace);
    const ports = callersPolicy.spec.rules.flatMap((r: any) => r.to.flatMap((t: any) => t.operation.ports)).map(Number).sort();
    assert.deepEqual(ports, [config.listen.http.port, config.listen.management.port, config.listen.grpc.port].sort());
    // Only the metrics/health port is open without an mTLS identity.
    assert.deepEqual(Object.keys(peerAuth.spec.portLevelMtls).map(Number), [config.listen.management.port]);
    assert.equal(peerAuth.spec.mtls.mode, 'STRICT');
    const openRule = callersPolicy.spec.rules.find((r: any) => !r.from);
    assert.deepEqual(openRule.to[0].operation.ports, [String(config.listen.management.port)]);
    const probePaths = [container.livenessProbe, container.readinessProbe].map((p: any) => p.httpGet.path);
    for (const path of ['/metrics', ...probePaths]) assert.ok(openRule.to[0].operation.paths.includes(path), path);
  });
});

describe('the HTTP provider\'s header lists, applied like a sidecar, against the real HTTP door', () => {
  const HOST = new URL(config.externalUrl!).host;
  const ORIGIN = config.externalUrl!;
  const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'x-forwarded-proto': 'https' };
  let dir: string;
  let running: RunningService;
  let door: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-istio-'));
    // The deployed config offline (k8s-objects.ts): headers, prefix, rules, roles unchanged.
    const tree = offlineDeployedConfigTree(dir);
    const path = join(dir, 'config.yaml');
    await writeFile(path, stringify(tree));
    await createUsersWithCli(path, ['--username', 'ops', '--password', 'correct-horse-1', '--groups', 'developer']);
    running = await startService(await loadConfigFile(path, containerEnv()), { logger: createLogger('silent') });
    door = `http://127.0.0.1:${running.httpPort}`;
  });
  after(async () => {
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const through = (req: Partial<ClientRequest> & { path: string }, provider: HttpProvider = httpProvider): Promise<Outcome> =>
    checkThroughHttpProvider(provider, door, { method: 'GET', host: HOST, headers: {}, ...req });
  const header = (list: readonly (readonly [string, string])[], name: string): string[] => list.filter(([n]) => n === name).map(([, v]) => v);

  test('an API call without credentials: 401 with WWW-Authenticate and a JSON body reach the client', async () => {
    const out = await through({ path: '/api/v1/main/flows/company.team/hello', headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
    assert.equal(out.allowed, false);
    if (out.allowed) return;
    assert.equal(out.status, 401);
    assert.ok(header(out.downstreamHeaders, 'www-authenticate').length);
    assert.match(header(out.downstreamHeaders, 'content-type')[0] ?? '', /json/);
    assert.equal(typeof JSON.parse(out.body).error, 'string');
  });

  test('a browser navigation is redirected to the login page — because accept/sec-fetch-* are forwarded', async () => {
    // `/` is not public (the built-in rules make only /ui/**, /static/** … public).
    const out = await through({ path: '/', headers: BROWSER });
    assert.equal(out.allowed, false);
    if (out.allowed) return;
    assert.equal(out.status, 302);
    assert.match(header(out.downstreamHeaders, 'location')[0] ?? '', /\/login\?redirect=/);
    // Control: the same request with those headers left out of the list is treated as an API call.
    const stripped = { ...httpProvider, includeRequestHeadersInCheck: httpProvider.includeRequestHeadersInCheck!.filter((h) => h !== 'accept' && !h.startsWith('sec-fetch')) };
    const control = await through({ path: '/', headers: BROWSER }, stripped);
    assert.equal(control.allowed ? 200 : control.status, 401);
  });

  test('Basic credentials: allowed; Kestra sees the identity, never the client\'s spoofed identity headers', async () => {
    const out = await through({
      path: '/api/v1/main/flows/company.team/hello',
      headers: {
        accept: 'application/json',
        authorization: `Basic ${Buffer.from('ops:correct-horse-1').toString('base64')}`,
        'x-kestra-user': 'admin', 'x-kestra-groups': 'admin', 'x-kestra-email': 'admin@evil.example', 'x-kestra-tenant': 'other',
      },
    });
    assert.equal(out.allowed, true, JSON.stringify(out));
    if (!out.allowed) return;
    assert.equal(out.upstreamHeaders['x-kestra-user'], 'ops');
    assert.equal(out.upstreamHeaders['x-kestra-groups'], 'developer');
    assert.notEqual(out.upstreamHeaders['x-kestra-email'], 'admin@evil.example');
    assert.notEqual(out.upstreamHeaders['x-kestra-tenant'], 'other');
  });

  test('the Basic login form (POST /login, body + Origin) sets the session; the cookie then allows and stays away from Kestra', async () => {
    const login = await through({
      method: 'POST',
      path: '/login',
      headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
      body: new URLSearchParams({ username: 'ops', password: 'correct-horse-1', redirect: '/ui/flows' }).toString(),
    });
    assert.equal(login.allowed, false);
    if (login.allowed) return;
    assert.equal(login.status, 302, login.body);
    assert.equal(header(login.downstreamHeaders, 'location')[0], '/ui/flows');
    const cookies = header(login.downstreamHeaders, 'set-cookie').map((c) => c.split(';')[0]!);
    const session = cookies.find((c) => c.startsWith(`${config.cookie.name}=`));
    assert.ok(session, `session cookie among ${cookies.join(' | ')}`);

    const page = await through({ path: '/api/v1/main/flows/company.team/hello', headers: { accept: 'application/json', cookie: `${session}; theme=dark` } });
    assert.equal(page.allowed, true, JSON.stringify(page));
    if (!page.allowed) return;
    assert.equal(page.upstreamHeaders['x-kestra-user'], 'ops');
    assert.equal(page.upstreamHeaders.cookie, 'theme=dark');
  });
});
