/**
 * `kestra-authz config check`: validate, list warnings (ignored Kestra keys,
 * rules that can never match, in the shadow policy too), print the resolved
 * config with secrets masked.
 * Exit 0 when valid, 1 with every problem listed otherwise.
 */
import { stringify } from 'yaml';
import { maskConfig } from '../config/mask-config.js';
import { findShadowedRules } from '../authz/shadowed-rules.js';
import { loadCliConfig, takeConfigFlag } from './cli-config.js';
import type { CliIo } from './main.js';
import { readSigningKeys, SigningKeyError } from '../identity/signing-keys.js';

export async function runConfigCheck(args: string[], io: CliIo): Promise<number> {
  const { path, rest } = takeConfigFlag(args);
  if (rest.length) {
    io.stderr(`config check: unexpected argument "${rest[0]}"`);
    return 2;
  }
  const config = await loadCliConfig(path);
  const token = config.identityToken;
  if (token.enabled && token.keyFile !== undefined) {
    // The key file is read at start and at every reload: a bad one would stop either.
    try {
      readSigningKeys(token.keyFile, token.algorithm);
    } catch (err) {
      if (!(err instanceof SigningKeyError)) throw err;
      io.stderr(`authz.identity-token.key-file: ${err.message}`);
      return 1;
    }
  }
  const shadow = config.shadow;
  const warnings = [
    ...config.warnings,
    ...findShadowedRules(config.rules),
    ...(shadow ? findShadowedRules(shadow.policy.rules).map((w) => `shadow policy: ${w}`) : []),
  ];
  for (const w of warnings) io.stderr(`warning: ${w}`);
  io.stdout(`# ${config.source}: valid${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}`);
  if (shadow) {
    const rules = shadow.ruleIds.length ? `shadow rules ${shadow.ruleIds.join(', ')}` : 'no shadow rules';
    io.stdout(`# shadow policy: ${shadow.file ?? 'this file'} (valid), ${rules}`);
  }
  // The shadow policy as its file and rules: the rest of it is a whole second config.
  const masked = maskConfig({ ...config, shadow: undefined }) as Record<string, unknown>;
  io.stdout(stringify(shadow ? { ...masked, shadow: { file: shadow.file, ruleIds: shadow.ruleIds, rules: shadow.policy.rules } } : masked));
  return 0;
}
