/**
 * A small, strict command-line parser: `--flag value`, `--flag=value`,
 * boolean flags (`--admin`, `--admin=false`), positionals anywhere, and `--`
 * to end options. Every mistake is an AuthzError ERR_CLI_USAGE naming the
 * flag — never the value, which may be a password.
 */
import { AuthzError } from '../core/errors.js';

export type FlagSpec = { readonly type: 'string' } | { readonly type: 'boolean' };
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export type ParsedFlags<S extends FlagSpecs> = {
  -readonly [K in keyof S]?: S[K] extends { type: 'string' } ? string : boolean;
};

export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: ParsedFlags<S>;
  readonly positionals: string[];
}

function usage(message: string): AuthzError {
  return new AuthzError('ERR_CLI_USAGE', message);
}

/** Names the bad option only when it looks like one: a password typed where a value was expected must not be echoed. */
function shown(arg: string, eq: number): string {
  const name = eq === -1 ? arg : arg.slice(0, eq);
  return /^--?[a-z][a-z0-9-]{0,31}$/.test(name) ? name : '(not shown: it does not look like an option name)';
}

const BOOLEAN_TEXT: Readonly<Record<string, boolean>> = { true: true, false: false, yes: true, no: false, '1': true, '0': false };

export function parseArgs<S extends FlagSpecs>(args: readonly string[], specs: S): ParsedArgs<S> {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = arg.startsWith('--') && Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) {
      const known = Object.keys(specs).map((k) => `--${k}`).join(', ');
      throw usage(`unknown option ${shown(arg, eq)}${known ? ` (expected one of: ${known})` : ''}; put values that start with "-" after --`);
    }
    if (Object.hasOwn(flags, name)) throw usage(`option --${name} is given more than once`);
    if (spec.type === 'boolean') {
      if (eq === -1) {
        flags[name] = true;
      } else {
        const value = BOOLEAN_TEXT[arg.slice(eq + 1).toLowerCase()];
        if (value === undefined) throw usage(`option --${name} takes no value, or =true / =false`);
        flags[name] = value;
      }
      continue;
    }
    if (eq !== -1) {
      flags[name] = arg.slice(eq + 1);
      continue;
    }
    const next = args[i + 1];
    // A following "--x" is far more likely a forgotten value than a value; --name=--x says it is one.
    if (next === undefined || next.startsWith('--')) {
      throw usage(`option --${name} needs a value (write --${name}=VALUE for a value that starts with "--")`);
    }
    flags[name] = next;
    i++;
  }
  return { flags: flags as ParsedFlags<S>, positionals };
}
