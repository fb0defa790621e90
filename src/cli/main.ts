/**
 * `kestra-authz` entry: dispatches to one file per command. Returns the
 * process exit code; never calls process.exit itself (tests call main()).
 */
import { AuthzError, ConfigError } from '../core/errors.js';
import { runAuditReplay } from './audit-replay-command.js';
import { runConfigCheck } from './config-check-command.js';
import { runConfigReference } from './config-reference-command.js';
import { runExplain } from './explain-command.js';
import { runServe } from './serve-command.js';
import { runTestCommand } from './test-command.js';
import { runUsersCli } from './users-cli.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export const USAGE = `kestra-authz — Envoy external authorization for Kestra and anything behind a mesh

Usage:
  kestra-authz serve [--config FILE] [--workers N]   (N processes on the same ports; default: the available cores)
                     [--log-format auto|json|pretty]   (default authz.log.format, auto: pretty on a terminal)
  kestra-authz config check [--config FILE]
  kestra-authz config reference [--readme FILE]
  kestra-authz auths users create --username U --password P [--admin] [--tenant T] [--groups a,b] [--if-not-exists]
  kestra-authz auths users create U [P] [--admin] [--tenant T] [--groups a,b] [--if-not-exists]
  kestra-authz auths users list | delete U | set-password U [P]
  kestra-authz explain --method GET --path /api/v1/main/flows/prod/hello [--host H]
                       [--header 'authorization: Bearer …']... [--cookie 'JWT=…']
  kestra-authz test CASES.yaml... [--config FILE] [--junit OUT.xml] [--coverage]
  kestra-authz audit replay LOG... --config NEW
  kestra-authz help | version

The config file comes from --config, else $KESTRA_AUTHZ_CONFIG, else an embedded
default (Basic auth, the built-in Kestra rules, an ephemeral secret).`;

export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await runServe(rest, io);
      case 'config':
        if (rest[0] === 'check') return await runConfigCheck(rest.slice(1), io);
        if (rest[0] === 'reference') return await runConfigReference(rest.slice(1), io);
        io.stderr(`unknown config subcommand "${rest[0] ?? ''}" (expected: config check | config reference)`);
        return 2;
      case 'auths':
        if (rest[0] === 'users') return await runUsersCli(rest.slice(1), io);
        io.stderr(`unknown auths subcommand "${rest[0] ?? ''}" (expected: auths users …)`);
        return 2;
      case 'explain':
        return await runExplain(rest, io);
      case 'test':
        return await runTestCommand(rest, io);
      case 'audit':
        if (rest[0] === 'replay') return await runAuditReplay(rest.slice(1), io);
        io.stderr(`unknown audit subcommand "${rest[0] ?? ''}" (expected: audit replay LOG… --config NEW)`);
        return 2;
      case 'version':
      case '--version':
        io.stdout(await version());
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.stderr(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(err.message);
      return 1;
    }
    if (err instanceof AuthzError) {
      io.stderr(`error: ${err.message}`);
      return err.code === 'ERR_CLI_USAGE' ? 2 : 1;
    }
    throw err;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `kestra-authz ${pkg.version} (node ${process.version})`;
}
