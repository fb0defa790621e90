/**
 * How every command finds its config: `--config FILE`, else
 * $KESTRA_AUTHZ_CONFIG, else the embedded default.
 */
import type { Config } from '../config/types.js';
import { embeddedDefaultConfig } from '../config/embedded-default.js';
import { loadConfigFile, resolveConfigPath } from '../config/load-config.js';

/** Removes `--config X` / `--config=X` from args; returns the path and the rest. */
export function takeConfigFlag(args: readonly string[]): { path?: string; rest: string[] } {
  const rest: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config' || arg === '-c') {
      path = args[++i];
    } else if (arg.startsWith('--config=')) {
      path = arg.slice('--config='.length);
    } else {
      rest.push(arg);
    }
  }
  return { path, rest };
}

export async function loadCliConfig(flagPath: string | undefined): Promise<Config> {
  const path = resolveConfigPath(flagPath, process.env);
  return path ? loadConfigFile(path, process.env) : embeddedDefaultConfig(process.env);
}
