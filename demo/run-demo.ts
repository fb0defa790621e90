/**
 * `npm run demo`: kestra-authz in front of a stand-in for Kestra, with an
 * embedded IdP and Caddy, in one command and without Docker.
 *
 *   browser ─> Caddy :4180 ──forward_auth──> kestra-authz HTTP door :4183 (child process)
 *                 │   └─ /oauth/*, /login, /logout ─┘          │ OIDC (code + PKCE)
 *                 └─> upstream :4182 (echoes identity)        IdP :4181 (oidc-provider, in-process)
 *
 * Flags: --json (one ready line on stdout, the banner on stderr), --random-ports
 * (no fixed defaults), --no-caddy (doors only), --verbose (children's output).
 * Ctrl-C (SIGINT) or SIGTERM stops every child by pid and removes the temp dir.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoAuthzYaml, PROVIDER_NAME } from './authz-config.js';
import { readyLine, renderBanner, type DemoInfo } from './banner.js';
import { CADDY_PATH, demoCaddyfile, findCaddy } from './caddy.js';
import { answers200, ChildStartError, listens, startChild, type RunningChild } from './child-process.js';
import { OidcProviderMissingError, startDemoIdp } from './demo-idp.js';
import { startDemoUpstream } from './demo-upstream.js';
import { demoUsers } from './demo-users.js';
import { DEFAULT_PORTS, pickPort } from './ports.js';

const CLI = fileURLToPath(new URL('../../bin/kestra-authz.js', import.meta.url));

interface DemoOptions {
  readonly json: boolean;
  readonly randomPorts: boolean;
  readonly noCaddy: boolean;
  readonly verbose: boolean;
}

const USAGE = `usage: npm run demo [-- --json] [--random-ports] [--no-caddy] [--verbose]
  --json          print one JSON "ready" line on stdout (the banner goes to stderr)
  --random-ports  any free ports instead of 4180-4185
  --no-caddy      do not start Caddy even if installed (doors only)
  --verbose       show the output of kestra-authz and Caddy`;

function parseArgs(argv: readonly string[]): DemoOptions | string {
  const known = new Set(['--json', '--random-ports', '--no-caddy', '--verbose']);
  for (const arg of argv) if (!known.has(arg)) return arg === '--help' || arg === '-h' ? '' : `unknown option ${arg}`;
  return {
    json: argv.includes('--json'),
    randomPorts: argv.includes('--random-ports'),
    noCaddy: argv.includes('--no-caddy'),
    verbose: argv.includes('--verbose'),
  };
}

/** Stops what was started, last first; anything added once stopping began is stopped at once. */
class Teardown {
  readonly #steps: (() => Promise<void>)[] = [];
  #running: Promise<void> | undefined;

  add(step: () => Promise<void>): void {
    if (this.#running) void this.#running.then(step).catch(() => {});
    else this.#steps.push(step);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step();
        } catch (err) {
          process.stderr.write(`demo: while stopping: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.#running;
  }

  get stopping(): boolean {
    return this.#running !== undefined;
  }
}

async function startDemo(options: DemoOptions, teardown: Teardown, children: RunningChild[]): Promise<DemoInfo> {
  const preferred = (name: keyof typeof DEFAULT_PORTS) => (options.randomPorts ? 0 : DEFAULT_PORTS[name]);
  const echo = options.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined;

  // mkdtemp makes it 0700: the config in it holds the session secret and the client secret.
  const tempDir = await mkdtemp(join(tmpdir(), 'kestra-authz-demo-'));
  teardown.add(() => rm(tempDir, { recursive: true, force: true }));

  const caddy = options.noCaddy ? undefined : await findCaddy();
  const noProxyReason = options.noCaddy
    ? '--no-caddy was given'
    : caddy ? undefined : process.env.KESTRA_AUTHZ_DEMO_CADDY
      ? `Caddy is not installed (KESTRA_AUTHZ_DEMO_CADDY=${process.env.KESTRA_AUTHZ_DEMO_CADDY} is not an executable)`
      : `Caddy is not installed (no caddy on PATH, ${CADDY_PATH} not found)`;

  // Ports for the two children first: the IdP must know the proxy's URL (its redirect URIs).
  const taken = new Set<number>();
  const httpPort = await pickPort(preferred('http'), taken);
  const grpcPort = await pickPort(preferred('grpc'), taken);
  const managementPort = await pickPort(preferred('management'), taken);
  const proxyPort = noProxyReason ? undefined : await pickPort(preferred('proxy'), taken);
  const externalUrl = proxyPort ? `http://127.0.0.1:${proxyPort}` : `http://127.0.0.1:${httpPort}`;

  const upstream = await startDemoUpstream(preferred('upstream'));
  teardown.add(() => upstream.stop());

  const users = demoUsers();
  const client = { clientId: 'kestra-authz-demo', clientSecret: randomBytes(24).toString('base64url') };
  const idp = await startDemoIdp({
    port: preferred('idp'),
    users,
    client: {
      ...client,
      redirectUris: [`${externalUrl}/oauth/callback/${PROVIDER_NAME}`],
      postLogoutRedirectUris: [`${externalUrl}/logout`],
    },
  });
  teardown.add(() => idp.stop());

  const configPath = join(tempDir, 'kestra-authz.yaml');
  await writeFile(configPath, demoAuthzYaml({
    externalUrl,
    issuer: idp.issuer,
    ...client,
    secretKey: randomBytes(48).toString('base64url'),
    ports: { grpc: grpcPort, http: httpPort, management: managementPort },
    dir: tempDir,
    logLevel: options.verbose ? 'info' : 'warn',
  }), { mode: 0o600 });

  const authz = await startChild({
    name: 'kestra-authz',
    command: process.execPath,
    args: [CLI, 'serve', '--config', configPath],
    ready: answers200(`http://127.0.0.1:${managementPort}/readyz`),
    echo,
  });
  children.push(authz);
  teardown.add(() => authz.stop());

  let proxy: RunningChild | undefined;
  if (proxyPort && caddy) {
    const caddyDir = join(tempDir, 'caddy');
    await mkdir(caddyDir, { recursive: true });
    const caddyfile = join(caddyDir, 'Caddyfile');
    await writeFile(caddyfile, demoCaddyfile({ port: proxyPort, authz: `127.0.0.1:${httpPort}`, upstream: `127.0.0.1:${upstream.port}`, dataDir: join(caddyDir, 'data') }));
    proxy = await startChild({
      name: 'caddy',
      command: caddy,
      args: ['run', '--config', caddyfile, '--adapter', 'caddyfile'],
      cwd: caddyDir,
      // Keep Caddy's autosave and data out of the user's home directory.
      env: { ...process.env, HOME: caddyDir, XDG_CONFIG_HOME: join(caddyDir, 'config'), XDG_DATA_HOME: join(caddyDir, 'data') },
      ready: listens(proxyPort),
      echo,
    });
    children.push(proxy);
    teardown.add(() => proxy!.stop());
  }

  return {
    ...(proxy && proxyPort ? { url: externalUrl, proxy: { name: 'caddy' as const, pid: proxy.pid, url: externalUrl } } : {}),
    ...(noProxyReason ? { noProxyReason } : {}),
    idp: { issuer: idp.issuer },
    upstream: { url: upstream.url },
    authz: {
      pid: authz.pid,
      httpDoor: `http://127.0.0.1:${httpPort}`,
      grpcDoor: `127.0.0.1:${grpcPort}`,
      management: `http://127.0.0.1:${managementPort}`,
      config: configPath,
      externalUrl,
    },
    users,
    tempDir,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    process.stderr.write(`${parsed ? `demo: ${parsed}\n` : ''}${USAGE}\n`);
    return parsed ? 2 : 0;
  }
  const options = parsed;
  const teardown = new Teardown();
  const children: RunningChild[] = [];

  let signalled: (signal: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => { signalled = resolve; });
  const onSignal = (signal: NodeJS.Signals) => () => signalled(signal);
  process.once('SIGINT', onSignal('SIGINT'));
  process.once('SIGTERM', onSignal('SIGTERM'));
  // Last resort when the demo exits without its teardown (an uncaught error): no orphaned children.
  process.once('exit', () => { for (const child of children) child.killSync(); });

  let info: DemoInfo;
  try {
    info = await Promise.race([
      startDemo(options, teardown, children),
      stopRequested.then((signal) => { throw new Error(`stopped by ${signal} while starting`); }),
    ]);
  } catch (err) {
    const message = err instanceof OidcProviderMissingError || err instanceof ChildStartError ? err.message : `could not start: ${(err as Error).message}`;
    process.stderr.write(`demo: ${message}\n`);
    await teardown.run();
    return 1;
  }

  if (options.json) {
    process.stderr.write(renderBanner(info));
    process.stdout.write(`${readyLine(info)}\n`);
  } else {
    process.stdout.write(renderBanner(info));
  }

  // Runs until Ctrl-C / SIGTERM, or until a child dies on its own.
  const childDied = Promise.race(children.map((c) => c.exited.then(() => c)));
  const outcome = await Promise.race([stopRequested.then((signal) => ({ signal })), childDied.then((child) => ({ child }))]);
  if ('child' in outcome && !teardown.stopping) {
    process.stderr.write(`demo: ${outcome.child.name} (pid ${outcome.child.pid}) exited unexpectedly; stopping the demo. Its last output:\n${outcome.child.output().trim().slice(-4000)}\n`);
    await teardown.run();
    return 1;
  }
  process.stderr.write('demo: stopping…\n');
  await teardown.run();
  process.stderr.write('demo: stopped (all children ended, temporary files removed)\n');
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
