/**
 * `kestra-authz auths users …`: loads the config (to find the users store)
 * and hands over to the users command.
 */
import { loadCliConfig, takeConfigFlag } from './cli-config.js';
import type { CliIo } from './main.js';
import { runUsersCommand } from './users-command.js';

async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

export async function runUsersCli(args: string[], io: CliIo): Promise<number> {
  const { path, rest } = takeConfigFlag(args);
  const config = await loadCliConfig(path);
  return runUsersCommand(rest, { config, stdout: io.stdout, stderr: io.stderr, readPassword: readPasswordFromStdin });
}
