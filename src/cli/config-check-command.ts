/**
 * `kestra-authz config check`: validate, list warnings (ignored Kestra keys,
 * rules that can never match), print the resolved config with secrets masked.
 * Exit 0 when valid, 1 with every problem listed otherwise.
 */
import { stringify } from 'yaml';
import { maskConfig } from '../config/mask-config.js';
import { findShadowedRules } from '../authz/shadowed-rules.js';
import { loadCliConfig, takeConfigFlag } from './cli-config.js';
import type { CliIo } from './main.js';

export async function runConfigCheck(args: string[], io: CliIo): Promise<number> {
  const { path, rest } = takeConfigFlag(args);
  if (rest.length) {
    io.stderr(`config check: unexpected argument "${rest[0]}"`);
    return 2;
  }
  const config = await loadCliConfig(path);
  const warnings = [...config.warnings, ...findShadowedRules(config.rules)];
  for (const w of warnings) io.stderr(`warning: ${w}`);
  io.stdout(`# ${config.source}: valid${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}`);
  io.stdout(stringify(maskConfig(config)));
  return 0;
}
