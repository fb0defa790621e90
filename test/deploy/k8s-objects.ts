/**
 * The deploy/k8s objects and the kestra-authz config their ConfigMap holds,
 * loaded with the service's own loader and the Secret's values as the
 * environment (the Deployment maps them 1:1), shared by the Kubernetes and
 * Istio manifest tests.
 */
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import { loadManifests, only, type Manifest } from './manifests.js';

export const K8S_FILES = [
  'deploy/k8s/serviceaccount.yaml',
  'deploy/k8s/configmap.yaml',
  'deploy/k8s/secret.yaml',
  'deploy/k8s/deployment.yaml',
  'deploy/k8s/service.yaml',
  'deploy/k8s/pdb.yaml',
  'deploy/k8s/servicemonitor.yaml',
] as const;

export const k8s: Manifest[] = loadManifests(K8S_FILES);
export const deployment = only(k8s, 'Deployment', 'kestra-authz');
export const service = only(k8s, 'Service', 'kestra-authz');
export const configMap = only(k8s, 'ConfigMap', 'kestra-authz');
export const secret = only(k8s, 'Secret', 'kestra-authz');
export const container = deployment.spec.template.spec.containers.find((c: any) => c.name === 'kestra-authz');

/** `--config <path>` from the container's args. */
export function configPathArg(): string {
  const args: string[] = container.args ?? [];
  const i = args.indexOf('--config');
  if (i === -1 || !args[i + 1]) throw new Error('deployment.yaml: container args have no --config <path>');
  return args[i + 1]!;
}

/** The ConfigMap key that ends up at --config (through the volume's items). */
export function configMapText(): string {
  const path = configPathArg();
  const mount = container.volumeMounts.find((m: any) => posix.dirname(path) === m.mountPath);
  if (!mount) throw new Error(`no volume is mounted at ${posix.dirname(path)}`);
  const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
  if (volume?.configMap?.name !== configMap.metadata.name) throw new Error(`${mount.name} is not the ConfigMap ${configMap.metadata.name}`);
  const item = (volume.configMap.items ?? []).find((it: any) => it.path === posix.basename(path));
  const key = item ? item.key : posix.basename(path);
  const text = configMap.data?.[key];
  if (typeof text !== 'string') throw new Error(`ConfigMap has no key ${key}`);
  return text;
}

/** The container's environment as the kubelet would build it: plain values and Secret keys. */
export function containerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (typeof e.value === 'string') env[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      if (ref.name !== secret.metadata.name) throw new Error(`env ${e.name}: Secret ${ref.name} is not in deploy/k8s`);
      const value = secret.stringData?.[ref.key] ?? (secret.data?.[ref.key] !== undefined ? Buffer.from(secret.data[ref.key], 'base64').toString('utf8') : undefined);
      if (value === undefined) throw new Error(`env ${e.name}: Secret has no key ${ref.key}`);
      env[e.name] = value;
    }
  }
  return env;
}

/** The config exactly as a pod would load it (source and base dir as in the pod). */
export function deployedConfig(): Config {
  const path = configPathArg();
  return parseConfig(configMapText(), path, containerEnv(), posix.dirname(path));
}

/**
 * The deployed config as a tree to run in a test: minus what needs a network
 * (IdP, JWKS, Redis), plus Basic users in `dir`/users.yaml, every port
 * ephemeral on loopback, silent logs, the Secret's key resolved (the CLI reads
 * the file with its own environment). Headers, prefix, rules and roles unchanged.
 */
export function offlineDeployedConfigTree(dir: string): any {
  const tree = parse(configMapText());
  tree.kestra.security['basic-auth'].enabled = true;
  tree.micronaut.security.oauth2 = { enabled: false };
  delete tree.authz.bearer;
  tree.authz.listen = { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' };
  tree.authz.sessions = { store: 'cookie' };
  tree.authz.users = { file: join(dir, 'users.yaml') };
  tree.authz.log = { level: 'silent' };
  tree.kestra.encryption['secret-key'] = containerEnv().KESTRA_SECRET;
  return tree;
}
