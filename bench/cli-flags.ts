/**
 * A tiny, strict flag parser for the bench programs: `--name value` or
 * `--name=value`, every flag declared with its kind, unknown flags rejected.
 */
import { BenchError } from './bench-error.js';

export type FlagKind = 'string' | 'int' | 'number' | 'boolean';
export type FlagSpec = Readonly<Record<string, { kind: FlagKind; min?: number; max?: number }>>;
export type FlagValues = Record<string, string | number | boolean | undefined>;

export function parseFlags(program: string, argv: readonly string[], spec: FlagSpec): FlagValues {
  const out: FlagValues = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new BenchError('ERR_BENCH_USAGE', `${program}: unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const flag = spec[name];
    if (!flag) {
      throw new BenchError('ERR_BENCH_USAGE', `${program}: unknown flag --${name} (known: ${Object.keys(spec).map((k) => `--${k}`).join(', ')})`);
    }
    if (flag.kind === 'boolean' && eq === -1) {
      out[name] = true;
      continue;
    }
    const raw = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw new BenchError('ERR_BENCH_USAGE', `${program}: --${name} needs a value`);
    out[name] = convert(program, name, raw, flag);
  }
  return out;
}

function convert(program: string, name: string, raw: string, flag: FlagSpec[string]): string | number | boolean {
  if (flag.kind === 'string') return raw;
  if (flag.kind === 'boolean') {
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new BenchError('ERR_BENCH_USAGE', `${program}: --${name} must be true or false`);
  }
  const value = Number(raw);
  const valid = raw.trim() !== '' && Number.isFinite(value) && (flag.kind === 'number' || Number.isInteger(value));
  if (!valid) throw new BenchError('ERR_BENCH_USAGE', `${program}: --${name} must be ${flag.kind === 'int' ? 'an integer' : 'a number'}, got "${raw}"`);
  if (flag.min !== undefined && value < flag.min) throw new BenchError('ERR_BENCH_USAGE', `${program}: --${name} must be ≥ ${flag.min}`);
  if (flag.max !== undefined && value > flag.max) throw new BenchError('ERR_BENCH_USAGE', `${program}: --${name} must be ≤ ${flag.max}`);
  return value;
}

/** The flag's value, or the fallback when absent. Typed by the fallback. */
export function flag<T extends string | number | boolean>(values: FlagValues, name: string, fallback: T): T {
  const value = values[name];
  return (value === undefined ? fallback : value) as T;
}

/**
 * `--host`, default 127.0.0.1, and only a loopback address: the bench loads a
 * server on this machine only; pointing it elsewhere is a mistake, not a feature.
 */
export function loopbackHost(program: string, values: FlagValues): string {
  const host = flag(values, 'host', '127.0.0.1');
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    throw new BenchError('ERR_BENCH_USAGE', `${program}: --host must be a loopback address`);
  }
  return host;
}
