/**
 * `kestra-authz serve`: start the doors and run until SIGINT/SIGTERM.
 * When serving from a file, SIGHUP and changes to that file reload it (a bad
 * file is rejected and the running config stays; see server/config-reload.ts).
 * So do changes to the shadow policy file (`authz.shadow`) of the config
 * serving: the watch follows it when a reload names another one.
 *
 * `--workers N` (default: the available cores) runs N such processes behind
 * the same ports (server/group-primary.ts); `--workers 1` is one process,
 * exactly as before. Each worker runs this same command, told by its
 * environment (GROUP_WORKER_ENV) that it is one of a group.
 *
 * `--log-format json|pretty|auto` overrides `authz.log.format` (auto: pretty
 * lines on a terminal, JSON otherwise; observability/log-format.ts).
 */
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { createLogger } from '../observability/logger.js';
import { resolveLogFormat, takeLogFormatFlag } from '../observability/log-format.js';
import { GROUP_WORKER_ENV, runGroupPrimary } from '../server/group-primary.js';
import { connectWorkerLink } from '../server/worker-link.js';
import { resolveConfigPath } from '../config/load-config.js';
import { createConfigReloader } from '../server/config-reload.js';
import { watchConfigFile, type ConfigWatcher } from '../server/config-watch.js';
import { startService, type RunningService } from '../server/service.js';
import { loadCliConfig, takeConfigFlag } from './cli-config.js';
import type { CliIo } from './main.js';

export async function runServe(args: string[], io: CliIo): Promise<number> {
  const { path, rest: afterConfig } = takeConfigFlag(args);
  const workersFlag = takeWorkersFlag(afterConfig);
  if (typeof workersFlag === 'string') {
    io.stderr(`serve: ${workersFlag}`);
    return 2;
  }
  const formatFlag = takeLogFormatFlag(workersFlag.rest);
  if (typeof formatFlag === 'string') {
    io.stderr(`serve: ${formatFlag}`);
    return 2;
  }
  const { rest } = formatFlag;
  if (rest.length) {
    io.stderr(`serve: unexpected argument "${rest[0]}"`);
    return 2;
  }
  const configPath = resolveConfigPath(path, process.env);
  const config = await loadCliConfig(path);
  // The flag wins over authz.log.format; workers get the same argv, hence the same choice.
  const logFormat = resolveLogFormat(formatFlag.format ?? config.log.format, process.stdout.isTTY);
  const newLogger = () => createLogger(config.log.level, undefined, logFormat);
  const group = cluster.isWorker && process.env[GROUP_WORKER_ENV] === '1' ? connectWorkerLink() : undefined;
  if (group === undefined) {
    let workers = workersFlag.workers ?? availableParallelism();
    if (workers > 1 && config.secrets.ephemeral) {
      // Each worker would draw its own random secret: a session cookie set by one would not open on another.
      newLogger().warn({ workers }, 'serve: the session secret is ephemeral (not configured), so one worker serves; configure it to use several');
      workers = 1;
    }
    if (workers > 1 && config.identityToken.enabled && config.identityToken.keyFile === undefined) {
      // Each worker would generate its own signing key: the JWKS one serves would not verify another's tokens.
      createLogger(config.log.level).warn({ workers }, 'serve: the identity-token key is generated (authz.identity-token.key-file not set), so one worker serves; configure a key file to use several');
      workers = 1;
    }
    if (workers > 1) {
      return runGroupPrimary({
        workers,
        logger: newLogger(),
        management: config.listen.management,
        config: { initial: config, ...(configPath === undefined ? {} : { path: configPath }) },
      });
    }
  }
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

  // Installed before start: Node's default for SIGHUP ends the process. One that
  // arrives while starting is dropped (the config being started is already fresh).
  let onHangup: () => void = () => {};
  const hangup = () => onHangup();
  process.on('SIGHUP', hangup);
  let service: RunningService;
  try {
    service = await startService(config, { version: pkg.version, group, logger: newLogger() });
  } catch (err) {
    process.off('SIGHUP', hangup);
    group?.close();
    throw err;
  }
  group?.reportReady(service.grpcPort, service.httpPort);
  const logger = service.runtime.logger;

  let watcher: ConfigWatcher | undefined;
  let shadowWatch: { readonly file: string; readonly watcher: ConfigWatcher } | undefined;
  if (configPath !== undefined) {
    const reloader = createConfigReloader({ path: configPath, runtime: service.runtime, services: service.services, logger });
    /** Watches the shadow file of the config now serving (none, the same, or another after a reload). */
    const followShadow = (): void => {
      const file = service.runtime.engine.config.shadow?.file;
      if (file === shadowWatch?.file) return;
      shadowWatch?.watcher.close();
      shadowWatch = file === undefined ? undefined : { file, watcher: watchConfigFile(file, reload, { logger }) };
    };
    const reload = (): void => { void reloader.reload().then(followShadow); };
    onHangup = () => {
      logger.info({ signal: 'SIGHUP', source: configPath }, 'reloading config');
      reload();
    };
    watcher = watchConfigFile(configPath, reload, { logger });
    followShadow();
  } else {
    onHangup = () => logger.info({ signal: 'SIGHUP' }, 'serving the embedded default config: nothing to reload');
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  process.off('SIGHUP', hangup);
  // Orchestrators expect a SIGTERM'd process to go: if some connection or
  // timer outlives the orderly close, leave anyway (unref: never delays a clean exit).
  setTimeout(() => {
    logger.warn('shutdown: handles still open after close; exiting');
    logger.flush?.();
    process.exit(0);
  }, 5_000).unref();
  watcher?.close();
  shadowWatch?.watcher.close();
  await service.close();
  // The IPC channel would keep a worker alive: let go of the primary.
  group?.close();
  if (group && process.connected) process.disconnect();
  return 0;
}

export const MAX_WORKERS = 64;

/** Removes `--workers N` / `--workers=N` from args; an error message when N is not an integer in 1..MAX_WORKERS. */
export function takeWorkersFlag(args: readonly string[]): { workers?: number; rest: string[] } | string {
  const rest: string[] = [];
  let value: string | undefined;
  let given = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--workers') {
      given = true;
      value = args[++i];
    } else if (arg.startsWith('--workers=')) {
      given = true;
      value = arg.slice('--workers='.length);
    } else {
      rest.push(arg);
    }
  }
  if (!given) return { rest };
  const workers = value !== undefined && /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(workers >= 1 && workers <= MAX_WORKERS)) {
    return `--workers must be a whole number from 1 to ${MAX_WORKERS} (processes serving the same ports), got "${value ?? ''}"`;
  }
  return { workers, rest };
}
