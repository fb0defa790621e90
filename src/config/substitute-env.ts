/**
 * `${ENV_VAR}` and `${ENV_VAR:default}` inside one string scalar. Runs on
 * values after YAML parsing, never on the raw text: a variable's value can't
 * inject YAML structure and line numbers stay those of the file. Values read
 * from the environment are not substituted again.
 */

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g;

export type SubstitutionResult =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly missing: readonly string[] };

/** Replaces every placeholder; lists the unset variables that have no default. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): SubstitutionResult {
  if (!text.includes('${')) return { ok: true, value: text };
  const missing: string[] = [];
  const value = text.replace(PLACEHOLDER, (_whole, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined) return found;
    if (fallback !== undefined) return fallback;
    if (!missing.includes(name)) missing.push(name);
    return '';
  });
  return missing.length ? { ok: false, missing } : { ok: true, value };
}
