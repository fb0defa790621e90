/**
 * `kestra-authz serve`: start the doors and run until SIGINT/SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { startService } from '../server/service.js';
import { loadCliConfig, takeConfigFlag } from './cli-config.js';
import type { CliIo } from './main.js';

export async function runServe(args: string[], io: CliIo): Promise<number> {
  const { path, rest } = takeConfigFlag(args);
  if (rest.length) {
    io.stderr(`serve: unexpected argument "${rest[0]}"`);
    return 2;
  }
  const config = await loadCliConfig(path);
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const service = await startService(config, { version: pkg.version });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      service.runtime.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await service.close();
  return 0;
}
