/**
 * `kestra-authz config reference`: every configuration key with its type,
 * default and meaning, as Markdown, generated from the schema
 * (config-reference.ts). `--readme FILE` rewrites the generated section of
 * FILE in place (between the config-reference markers) — how the README's
 * copy is kept current; a test fails when it is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { renderConfigReference, spliceConfigReference } from '../config/config-reference.js';
import { parseArgs } from './parse-args.js';
import type { CliIo } from './main.js';

export async function runConfigReference(args: string[], io: CliIo): Promise<number> {
  const { flags, positionals } = parseArgs(args, { readme: { type: 'string' } });
  if (positionals.length) {
    io.stderr(`config reference: unexpected argument "${positionals[0]}"`);
    return 2;
  }
  const reference = renderConfigReference();
  if (flags.readme === undefined) {
    io.stdout(reference);
    return 0;
  }
  const before = await readFile(flags.readme, 'utf8');
  const after = spliceConfigReference(before, reference);
  if (after === before) {
    io.stdout(`${flags.readme}: configuration reference is up to date`);
    return 0;
  }
  await writeFile(flags.readme, after);
  io.stdout(`${flags.readme}: configuration reference updated`);
  return 0;
}
