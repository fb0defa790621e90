/**
 * deploy/k8s: every object passes the kubernetes-models (and Prometheus
 * Operator) schema with no field unknown to it; the ConfigMap's config loads
 * with the service's own loader using the Secret's values as environment;
 * names, labels, selectors and ports line up between Deployment, Service,
 * PodDisruptionBudget, ServiceMonitor and the config; the pod is hardened;
 * and the service started on that config answers the probes the Deployment
 * declares.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { parseConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { deleteKeys, inspector, redisSkipReason, SHARED_REDIS, testPrefix } from '../sessions-redis/redis-fixture.js';
import { loadDocuments, only, selects } from './manifests.js';
import { configMapText, configPathArg, container, containerEnv, deployedConfig, deployment, k8s, K8S_FILES, secret, service } from './k8s-objects.js';
import { validateStrict } from './strict-model.js';

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

const pdb = only(k8s, 'PodDisruptionBudget', 'kestra-authz');
const serviceMonitor = only(k8s, 'ServiceMonitor', 'kestra-authz');
const podSpec = deployment.spec.template.spec;
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;

function containerPort(name: string): number {
  const port = container.ports.find((p: any) => p.name === name);
  assert.ok(port, `container port named ${name}`);
  return port.containerPort;
}

describe('deploy/k8s objects pass the kubernetes-models schemas', () => {
  for (const m of k8s) {
    test(`${m.file}: ${m.kind} ${m.metadata.name}`, () => {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      assert.ok(Model, `no model for ${m.apiVersion} ${m.kind}`);
      assert.deepEqual(validateStrict(new Model(m)), [], 'fields unknown to the schema');
    });
  }

  test('…and the checks bite: a wrong type and a misspelt field are both caught', () => {
    assert.throws(() => new Deployment({ ...deployment, spec: { ...deployment.spec, replicas: '2' } } as any).validate(), /replicas/);
    const typo = structuredClone(deployment) as any;
    typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    assert.deepEqual(validateStrict(new Deployment(typo)), ['spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem']);
  });

  test('kustomization.yaml lists every file and sets the namespace every object already names', () => {
    const [kustomization] = loadDocuments('deploy/k8s/kustomization.yaml');
    assert.deepEqual(kustomization.resources.map((r: string) => `deploy/k8s/${r}`), [...K8S_FILES]);
    for (const m of k8s) assert.equal(m.metadata.namespace, kustomization.namespace, `${m.kind} namespace`);
  });
});

describe('the ConfigMap holds a config the service accepts', () => {
  test('it loads with the project\'s loader, the Secret\'s values as environment, without a warning', () => {
    const config = deployedConfig();
    assert.deepEqual(config.warnings, []);
    assert.equal(config.secrets.ephemeral, false, 'the session secret comes from the Secret, the same on every replica');
    assert.equal(config.sessions.store, 'redis', 'two replicas share sessions through Redis');
    assert.equal(config.oidc.enabled, true);
    assert.equal(config.oidc.providers.length, 1);
    assert.equal(config.oidc.providers[0]!.clientSecret, secret.stringData.OIDC_CLIENT_SECRET);
    assert.equal(config.basicAuth.enabled, false, 'no per-replica users file');
    assert.match(config.externalUrl ?? '', /^https:\/\//);
  });

  test('every ${VAR} without a default is set by the container; every Secret key is used', () => {
    const placeholders = [...configMapText().matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}/g)];
    const required = [...new Set(placeholders.filter((m) => m[2] === undefined).map((m) => m[1]!))].sort();
    const env = containerEnv();
    for (const name of required) assert.ok(name in env, `${name} is set in the Deployment`);
    const fromSecret = container.env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef.key).sort();
    assert.deepEqual(Object.keys(secret.stringData).sort(), fromSecret);
    assert.deepEqual(required, fromSecret, 'each secret is used by the config, none is missing');
  });

  test('without the Secret the config is refused, naming each missing variable (no silent empty secret)', () => {
    assert.throws(() => parseConfig(configMapText(), configPathArg(), {}), (err: Error) => {
      for (const name of ['KESTRA_SECRET', 'OIDC_CLIENT_SECRET', 'REDIS_PASSWORD']) assert.match(err.message, new RegExp(name));
      return true;
    });
  });

  test('the Secret holds only marked placeholders', () => {
    assert.ok(Object.keys(secret.stringData).length >= 3);
    for (const [key, value] of Object.entries<string>(secret.stringData)) assert.match(value, /^CHANGE-ME-/, key);
    assert.equal(secret.data, undefined);
  });
});

describe('Deployment, Service, PDB and ServiceMonitor line up', () => {
  const config = deployedConfig();

  test('two replicas; selector = pod labels', () => {
    assert.equal(deployment.spec.replicas, 2);
    assert.ok(selects(deployment.spec.selector.matchLabels, podLabels));
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  });

  test('container ports are the configured listeners', () => {
    assert.equal(containerPort('grpc'), config.listen.grpc.port);
    assert.equal(containerPort('http'), config.listen.http.port);
    assert.equal(containerPort('management'), config.listen.management.port);
    for (const l of Object.values(config.listen)) assert.equal(l.host, '0.0.0.0', 'reachable from the pod network');
  });

  test('liveness → /healthz, readiness → /readyz, both on the management port', () => {
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'management' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'management' });
    assert.equal(container.startupProbe.httpGet.port, 'management');
  });

  test('hardened: non-root, read-only root, no capabilities, RuntimeDefault seccomp, no token', () => {
    assert.equal(podSpec.securityContext.runAsNonRoot, true);
    assert.ok(podSpec.securityContext.runAsUser > 0, 'a numeric non-root uid (the image USER is a name)');
    assert.equal(podSpec.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(podSpec.automountServiceAccountToken, false);
    const sc = container.securityContext;
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.equal(sc.capabilities.add, undefined);
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
    assert.ok(container.resources.limits.cpu && container.resources.limits.memory);
    assert.equal(podSpec.serviceAccountName, only(k8s, 'ServiceAccount').metadata.name);
  });

  test('config from the ConfigMap as a read-only directory (hot reload); only emptyDirs are writable', () => {
    assert.equal(configPathArg(), '/etc/kestra-authz/config.yaml');
    const byName = new Map(podSpec.volumes.map((v: any) => [v.name, v]));
    for (const mount of container.volumeMounts) {
      const volume: any = byName.get(mount.name);
      assert.ok(volume, `volume ${mount.name}`);
      assert.equal(mount.subPath, undefined, `${mount.name}: a subPath mount never sees ConfigMap updates`);
      if (!mount.readOnly) assert.ok(volume.emptyDir, `${mount.name} is writable, so it must be an emptyDir`);
      if (volume.configMap) assert.equal(mount.readOnly, true);
    }
    assert.ok(deployment.spec.template.metadata.annotations['kestra-authz/config-revision']);
  });

  test('replicas are spread across nodes and zones', () => {
    const keys = podSpec.topologySpreadConstraints.map((c: any) => c.topologyKey).sort();
    assert.deepEqual(keys, ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const c of podSpec.topologySpreadConstraints) assert.ok(selects(c.labelSelector.matchLabels, podLabels));
  });

  test('Service selects the pods; each port targets a named container port, with its app protocol', () => {
    assert.ok(selects(service.spec.selector, podLabels));
    const ports = Object.fromEntries(service.spec.ports.map((p: any) => [p.name, p]));
    assert.deepEqual(Object.keys(ports).sort(), ['grpc', 'http', 'metrics']);
    assert.equal(containerPort(ports.grpc.targetPort), config.listen.grpc.port);
    assert.equal(containerPort(ports.http.targetPort), config.listen.http.port);
    assert.equal(containerPort(ports.metrics.targetPort), config.listen.management.port);
    assert.equal(ports.grpc.appProtocol, 'grpc');
    assert.equal(ports.http.appProtocol, 'http');
  });

  test('PodDisruptionBudget keeps one replica and selects exactly the Deployment\'s pods', () => {
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector, deployment.spec.selector);
  });

  test('ServiceMonitor selects the Service and scrapes /metrics on its metrics port', () => {
    assert.ok(selects(serviceMonitor.spec.selector.matchLabels, service.metadata.labels));
    assert.ok(serviceMonitor.spec.namespaceSelector.matchNames.includes(service.metadata.namespace));
    const [endpoint] = serviceMonitor.spec.endpoints;
    assert.equal(endpoint.path, '/metrics');
    assert.ok(service.spec.ports.some((p: any) => p.name === endpoint.port), `Service has a port named ${endpoint.port}`);
  });
});

describe('the service on the deployed config answers the Deployment\'s probes', async () => {
  const skip = await redisSkipReason();
  let running: RunningService;
  const prefix = testPrefix();

  before(async () => {
    if (skip) return;
    const deployed = deployedConfig();
    // Only what a test machine cannot provide is changed: loopback on free
    // ports, the local Redis under a private prefix, and no IdP/JWKS
    // (readiness never depends on them; no test reaches the internet).
    const config: Config = {
      ...deployed,
      listen: { grpc: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, management: { host: '127.0.0.1', port: 0 } },
      sessions: { store: 'redis', url: SHARED_REDIS, prefix },
      oidc: { ...deployed.oidc, enabled: false, providers: [] },
      bearer: { ...deployed.bearer, issuers: [] },
    };
    running = await startService(config, { logger: createLogger('silent'), readinessIntervalMs: 100 });
  });
  after(async () => {
    await running?.close();
    if (skip) return;
    const redis = inspector();
    try { await deleteKeys(redis, prefix); } finally { redis.disconnect(); }
  });

  const probeUrl = (probe: any): string => {
    assert.equal(probe.httpGet.port, 'management');
    return `http://127.0.0.1:${running.managementPort}${probe.httpGet.path}`;
  };

  test('liveness and startup probe paths answer 200', { skip }, async () => {
    for (const probe of [container.livenessProbe, container.startupProbe]) {
      const res = await fetch(probeUrl(probe));
      assert.equal(res.status, 200, probe.httpGet.path);
    }
  });

  test('the readiness probe path answers 200 once Redis answers', { skip }, async () => {
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await fetch(probeUrl(container.readinessProbe))).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
  });

  test('the ServiceMonitor\'s path serves the kestra_authz_ metrics', { skip }, async () => {
    const res = await fetch(`http://127.0.0.1:${running.managementPort}${serviceMonitor.spec.endpoints[0].path}`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^kestra_authz_decisions_total|kestra_authz_build_info/m);
  });
});
