/**
 * Hot reload of the config file (SIGHUP, file change): load → build a new
 * Engine on the same EngineServices → swap `runtime.engine` in one
 * assignment. Requests already deciding finish on the engine they captured;
 * the next request sees the new one. A file that does not load is rejected
 * with every problem logged, and the engine already serving stays.
 *
 * What survives a reload: store connections, lockout counters, OIDC discovery
 * and each JWKS cache whose issuer settings did not change (new issuers are
 * fetched before the swap; caches no longer used are closed after it).
 * What a reload cannot change: the stores and the listen addresses (and the
 * lockout settings, whose counters live in the running tracker). Those are
 * reported as "needs a restart" and keep their running values.
 */
import type { Logger } from 'pino';
import { reuseJwksCaches, startJwksCaches } from '../authn/jwks-caches.js';
import { loadConfigFile } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import { AuthzError, ConfigError } from '../core/errors.js';
import { configLastReloadSuccess, configReloadsTotal } from '../observability/metrics.js';
import { buildServing, type EngineServices } from './build-engine.js';
import { errorSummary, type Runtime } from './runtime.js';

export type ReloadResult = 'success' | 'failure';

export interface ConfigReloaderOptions {
  /** The file the service was started from. */
  readonly path: string;
  readonly runtime: Runtime;
  readonly services: EngineServices;
  readonly logger: Logger;
  /** Loads and validates the file (default loadConfigFile); throws ConfigError / AuthzError. */
  readonly load?: (path: string) => Promise<Config>;
}

export interface ConfigReloader {
  /**
   * Reloads once. Never rejects. Calls made while a reload runs coalesce
   * into one more reload after it (which reads the file as it is then).
   */
  reload(): Promise<ReloadResult>;
}

/** Settings held by running objects (stores, sockets, counters): a reload reports a change, never applies it. */
const RESTART_ONLY: readonly { readonly key: string; readonly of: (c: Config) => unknown }[] = [
  { key: 'authz.users', of: (c) => c.users },
  { key: 'authz.sessions', of: (c) => c.sessions },
  { key: 'authz.listen', of: (c) => c.listen },
  { key: 'kestra.security.login.failed-attempts', of: (c) => c.lockout },
  { key: 'authz.source-lockout', of: (c) => c.sourceLockout },
  // The exporter and its batch queue are built once at start (observability/tracing.ts).
  { key: 'authz.tracing', of: (c) => c.tracing },
  // The writer (file, rotation, buffer) is opened once at start (audit/audit-log.ts).
  { key: 'authz.audit', of: (c) => c.audit },
  // The log destination (JSON or pretty) is chosen once at start (observability/logger.ts).
  { key: 'authz.log.format', of: (c) => c.log.format },
];

/** Keys (names only, never values: a store URL can hold a password) whose change needs a restart. */
export function restartOnlyChanges(previous: Config, next: Config): string[] {
  return RESTART_ONLY.filter(({ of }) => JSON.stringify(of(previous)) !== JSON.stringify(of(next))).map(({ key }) => key);
}

/**
 * No secret configured means one generated at load; a reload would generate
 * another and end every session, so the running one is kept while the file
 * still sets none.
 */
export function keepEphemeralSecrets(previous: Config, next: Config): Config {
  if (!previous.secrets.ephemeral || !next.secrets.ephemeral) return next;
  return Object.freeze({ ...next, secrets: previous.secrets });
}

export function createConfigReloader(options: ConfigReloaderOptions): ConfigReloader {
  const { path, runtime, services, logger } = options;
  const load = options.load ?? ((file: string) => loadConfigFile(file));
  let inFlight: Promise<ReloadResult> | undefined;
  let queued: Promise<ReloadResult> | undefined;

  const start = (): Promise<ReloadResult> => {
    inFlight = reloadOnce().catch(rejected).finally(() => { inFlight = undefined; });
    return inFlight;
  };

  async function reloadOnce(): Promise<ReloadResult> {
    const previous = runtime.engine.config;
    let config: Config;
    try {
      config = keepEphemeralSecrets(previous, await load(path));
    } catch (err) {
      return rejected(err);
    }

    const jwks = reuseJwksCaches(config.bearer, services.jwks);
    let serving;
    try {
      serving = buildServing(config, services, jwks.caches);
    } catch (err) {
      for (const cache of jwks.created) cache.close();
      return rejected(err);
    }
    // Keys of new or changed issuers before the swap (bounded by the JWKS timeout; never throws),
    // so their tokens do not fail for want of keys the moment the new engine serves.
    await startJwksCaches(jwks.created);

    // One turn: a door reads both together, so no decision pairs this engine with another config's shadow.
    runtime.engine = serving.engine;
    runtime.shadow = serving.shadow;
    services.jwks = jwks.caches;
    // In-flight decisions on the old engine keep the keys those caches already hold.
    for (const cache of jwks.retired) cache.close();

    if (config.log.level !== previous.log.level) logger.level = config.log.level;
    for (const warning of config.warnings) logger.warn({ source: config.source }, warning);
    const needsRestart = restartOnlyChanges(previous, config);
    if (needsRestart.length) {
      logger.warn({ source: config.source, keys: needsRestart }, 'config reloaded, but these settings only take effect after a restart; their running values are kept');
    }
    configReloadsTotal.labels('success').inc();
    configLastReloadSuccess.set(Date.now() / 1000);
    logger.info({ source: config.source, shadow: config.shadow ? config.shadow.file ?? 'rules' : undefined, jwksKept: jwks.caches.size - jwks.created.length, jwksNew: jwks.created.length, jwksRetired: jwks.retired.length }, 'config reloaded');
    return 'success';
  }

  function rejected(err: unknown): ReloadResult {
    configReloadsTotal.labels('failure').inc();
    if (err instanceof ConfigError) {
      // Problems name the key and line; the loader never puts a configured value in them.
      logger.error({ source: err.file, problems: err.problems.map((p) => ({ key: p.key, line: p.line, message: p.message })) },
        `config reload rejected (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}); the previous config keeps serving`);
    } else if (err instanceof AuthzError) {
      logger.error({ source: path, code: err.code, error: err.message }, 'config reload rejected; the previous config keeps serving');
    } else {
      logger.error({ source: path, err: errorSummary(err) }, 'config reload failed; the previous config keeps serving');
    }
    return 'failure';
  }

  return {
    reload() {
      if (queued) return queued;
      if (!inFlight) return start();
      // Chained on a promise that never rejects (reloadOnce catches everything).
      queued = inFlight.then(() => {
        queued = undefined;
        return start();
      });
      return queued;
    },
  };
}
