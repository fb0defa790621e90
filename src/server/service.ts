/**
 * Composition root: one config → stores, authenticators, engine, doors.
 * Everything the core needs from the outside is created here and passed in.
 */
import type { Logger } from 'pino';
import { checkAuditOutput, createAuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/types.js';
import { buildInfo, configLastReloadSuccess, configReloadsTotal } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import { resolveLogFormat } from '../observability/log-format.js';
import { createDecisionTracer } from '../observability/tracing.js';
import { createEngineServices, buildServing, type EngineServices } from './build-engine.js';
import { startGrpcDoor, type GrpcDoor } from './grpc-door.js';
import { startHttpDoor, type HttpDoor } from './http-door.js';
import { startManagement, type ManagementServer } from './management.js';
import { startReadinessLoop, type ReadinessLoop } from './readiness.js';
import { publishedKeys, type Runtime } from './runtime.js';
import type { WorkerLink } from './worker-link.js';

export interface RunningService {
  readonly runtime: Runtime;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly managementPort: number;
  readonly services: EngineServices;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  readonly version?: string;
  /** How often store health is polled for readiness (default 1000 ms). */
  readonly readinessIntervalMs?: number;
  /**
   * This process is one worker of `serve --workers N` (group-primary.ts): no
   * management port (the primary's reports the group), readiness reported
   * to the primary, in-memory lockout and logout lists shared through it.
   */
  readonly group?: WorkerLink;
}

export async function startService(config: Config, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(config.log.level, undefined, resolveLogFormat(config.log.format, process.stdout.isTTY));
  for (const warning of config.warnings) logger.warn({ source: config.source }, warning);
  await checkAuditOutput(config.audit, config.source);

  // Before anything that needs closing: with tracing off this loads nothing and returns undefined.
  const tracer = await createDecisionTracer(config.tracing, logger, {
    version: options.version,
    currentConfig: () => runtime.engine.config,
  });
  const services = createEngineServices(config, logger, options.group);
  // Off by default: then undefined, and a door pays one check (runtime.ts).
  const audit = createAuditLog(config.audit, logger);
  const serving = buildServing(config, services);
  const runtime: Runtime = {
    engine: serving.engine, shadow: serving.shadow, logger, ready: false, tracer, audit,
    ...(services.identityKeys === undefined ? {} : { identityKeys: services.identityKeys }),
  };
  configReloadsTotal.labels('success').inc();
  configLastReloadSuccess.set(Date.now() / 1000);
  buildInfo.labels(options.version ?? 'dev', process.version).set(1);

  let grpcDoor: GrpcDoor | undefined;
  let httpDoor: HttpDoor | undefined;
  let management: ManagementServer | undefined;
  let readiness: ReadinessLoop | undefined;
  try {
    if (options.group === undefined) {
      management = await startManagement(runtime, config.listen.management.host, config.listen.management.port, {
        failingDependencies: () => readiness?.failing() ?? [],
        jwks: () => publishedKeys(runtime),
      });
    } else {
      // Before any request: the logouts other workers took before this one started.
      await options.group.catchUp();
    }
    grpcDoor = await startGrpcDoor(runtime, config.listen.grpc.host, config.listen.grpc.port);
    httpDoor = await startHttpDoor(runtime, config.listen.http.host, config.listen.http.port);
    // Ready once the stores answer; JWKS are fetched in the background and an
    // unreachable issuer only affects its own tokens (they fail closed).
    // From then on readiness follows the stores' health, polled every second.
    await services.warmUp();
    const door = grpcDoor;
    readiness = await startReadinessLoop({
      runtime,
      health: services.health,
      setServing: (serving) => door.setServing(serving),
      logger,
      intervalMs: options.readinessIntervalMs,
      onChange: options.group ? (ready, failing) => options.group!.reportReadiness(ready, failing) : undefined,
    });
    if (options.group) options.group.reportReadiness(runtime.ready, readiness.failing());
  } catch (err) {
    await Promise.all([grpcDoor?.close(), httpDoor?.close(), management?.close()]);
    await services.close();
    await tracer?.shutdown();
    await audit?.close();
    throw err;
  }
  logger.info({
    grpc: `${config.listen.grpc.host}:${grpcDoor.port}`,
    http: `${config.listen.http.host}:${httpDoor.port}`,
    management: management ? `${config.listen.management.host}:${management.port}` : 'the primary\'s',
    config: config.source,
    // docs/rules.md "Shadow rules": the file, or 'rules' when only `shadow: true` rules make the shadow policy.
    shadow: config.shadow ? config.shadow.file ?? 'rules' : undefined,
  }, 'kestra-authz ready');

  return {
    runtime,
    grpcPort: grpcDoor.port,
    httpPort: httpDoor.port,
    managementPort: management?.port ?? 0,
    services,
    async close() {
      readiness?.stop();
      runtime.ready = false;
      grpcDoor?.setServing(false);
      await Promise.all([grpcDoor?.close(), httpDoor?.close(), management?.close()]);
      await services.close();
      // The last decisions' spans; bounded by the export timeout when the collector is away.
      await tracer?.shutdown();
      // The lines of the last decisions.
      await audit?.close();
      logger.flush?.();
    },
  };
}
