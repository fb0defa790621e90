/**
 * `kestra-authz serve`: start the doors and run until SIGINT/SIGTERM.
 * When serving from a file, SIGHUP and changes to that file reload it (a bad
 * file is rejected and the running config stays; see server/config-reload.ts).
 * So do changes to the shadow policy file (`authz.shadow`) of the config
 * serving: the watch follows it when a reload names another one.
 */
import { readFile } from 'node:fs/promises';
import { resolveConfigPath } from '../config/load-config.js';
import { createConfigReloader } from '../server/config-reload.js';
import { watchConfigFile, type ConfigWatcher } from '../server/config-watch.js';
import { startService, type RunningService } from '../server/service.js';
import { loadCliConfig, takeConfigFlag } from './cli-config.js';
import type { CliIo } from './main.js';

export async function runServe(args: string[], io: CliIo): Promise<number> {
  const { path, rest } = takeConfigFlag(args);
  if (rest.length) {
    io.stderr(`serve: unexpected argument "${rest[0]}"`);
    return 2;
  }
  const configPath = resolveConfigPath(path, process.env);
  const config = await loadCliConfig(path);
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

  // Installed before start: Node's default for SIGHUP ends the process. One that
  // arrives while starting is dropped (the config being started is already fresh).
  let onHangup: () => void = () => {};
  const hangup = () => onHangup();
  process.on('SIGHUP', hangup);
  let service: RunningService;
  try {
    service = await startService(config, { version: pkg.version });
  } catch (err) {
    process.off('SIGHUP', hangup);
    throw err;
  }
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
  return 0;
}
