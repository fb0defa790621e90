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
import { ClientKeyError, loadClientKey } from '../oidc/client-key.js';
import type { Config } from '../config/types.js';

export async function runConfigCheck(args: string[], io: CliIo): Promise<number> {
  const { path, rest } = takeConfigFlag(args);
  if (rest.length) {
    io.stderr(`config check: unexpected argument "${rest[0]}"`);
    return 2;
  }
  const config = await loadCliConfig(path);
  const keyProblems = await keyFileProblems(config);
  for (const problem of keyProblems) io.stderr(problem);
  if (keyProblems.length) return 1;
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

/**
 * The key files the service reads after start (the identity token's at start
 * and every reload, a private_key_jwt client's at its first login): each
 * problem, naming the file and never its content.
 */
async function keyFileProblems(config: Config): Promise<string[]> {
  const problems: string[] = [];
  const token = config.identityToken;
  if (token.enabled && token.keyFile !== undefined) {
    try {
      readSigningKeys(token.keyFile, token.algorithm);
    } catch (err) {
      if (!(err instanceof SigningKeyError)) throw err;
      problems.push(`authz.identity-token.key-file: ${err.message}`);
    }
  }
  for (const provider of config.oidc.providers) {
    if (provider.privateKeyFile === undefined) continue;
    try {
      await loadClientKey(provider.privateKeyFile, provider.privateKeyId);
    } catch (err) {
      const why = err instanceof ClientKeyError ? err.message : `private-key-file ${provider.privateKeyFile} cannot be used as a signing key`;
      problems.push(`authz.oidc.clients.${provider.name}.private-key-file: ${why}`);
    }
  }
  return problems;
}
