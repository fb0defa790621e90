/**
 * LemonLDAP::NG 2.16 (Debian's `lemonldap-ng`) as a second, independently
 * written OpenID Provider for the interop suite: its portal under
 * `llng-fastcgi-server` behind its own nginx on 127.0.0.1 over HTTPS (the
 * tests' throw-away CA certificate, test/fixtures/tls, which covers
 * 127.0.0.1), configured through its File configuration backend — a
 * `lmConf-1.json` in a temp dir, named by a `lemonldap-ng.ini` there
 * (`LLNG_DEFAULTCONFFILE`) — with the Demo authentication backend
 * (dwho/dwho in `timelords` and `users`, rtyler/rtyler in `earthlings` and
 * `users`, msmith/msmith) and OIDC relying parties as the test asks.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (as `npm test` does).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startNginx, type RunningProxy } from './proxies.js';

export const LLNG_FASTCGI = '/usr/sbin/llng-fastcgi-server';
/** The Debian packages the suite needs (also in .ci/run). */
export const LLNG_PACKAGES: readonly string[] = Object.freeze([
  'lemonldap-ng', 'lemonldap-ng-fastcgi-server', 'libstring-random-perl', 'libgd-securityimage-perl', 'libimage-magick-perl', 'libio-string-perl',
]);
const DEFAULT_CONF = '/var/lib/lemonldap-ng/conf/lmConf-1.json';
const TLS_DIR = fileURLToPath(new URL('../../../test/fixtures/tls/', import.meta.url));
const PORTAL_TEMPLATES = '/usr/share/lemonldap-ng/portal/templates';
const PORTAL_HTDOCS = '/usr/share/lemonldap-ng/portal/htdocs';

export class LemonldapUnavailableError extends Error {
  readonly code = 'ERR_LEMONLDAP_UNAVAILABLE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'LemonldapUnavailableError';
  }
}

function installed(): boolean {
  return existsSync(LLNG_FASTCGI) && existsSync(DEFAULT_CONF) && existsSync(PORTAL_TEMPLATES);
}

/**
 * Why the suite cannot run here, or undefined. Under CI=true a missing
 * LemonLDAP::NG is installed with apt-get when running as root, and what
 * still cannot run throws: the suite must not pass by not running.
 */
export function lemonldapSkipReason(): string | undefined {
  if (installed()) return undefined;
  const ci = process.env.CI === 'true';
  if (ci && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...LLNG_PACKAGES], { stdio: 'ignore', env });
    if (installed()) return undefined;
  }
  const message = `LemonLDAP::NG is not installed (apt-get install ${LLNG_PACKAGES.join(' ')}); the LemonLDAP::NG interop suite cannot run`;
  if (ci) throw new LemonldapUnavailableError(message);
  return message;
}

export interface LemonldapRp {
  /** The RP's key in the configuration (`oidcRPMetaDataOptions.<key>`). */
  readonly key: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris?: readonly string[];
  /** OpenID Front-Channel Logout 1.0 URI (LemonLDAP's "front" logout type, session required). */
  readonly frontchannelLogoutUri?: string;
  /** Access-token lifetime, seconds (LemonLDAP's default 3600). */
  readonly accessTokenTtl?: number;
}

export interface Lemonldap {
  /** https://127.0.0.1:<port> */
  readonly issuer: string;
  readonly port: number;
  /** What the FastCGI server logged (debug). */
  output(): string;
  stop(): Promise<void>;
}

export interface LemonldapOptions {
  readonly rps: readonly LemonldapRp[];
}

/** The portal's OIDC settings: claims (groups among them) in the ID token, refresh tokens, no consent screen. */
async function portalConfig(issuer: string, dir: string, options: LemonldapOptions): Promise<Record<string, unknown>> {
  const base = JSON.parse(await readFile(DEFAULT_CONF, 'utf8')) as Record<string, unknown>;
  const keys = spawnSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], { encoding: 'utf8' });
  if (keys.status !== 0) throw new Error(`openssl genpkey failed: ${keys.stderr}`);
  const publicKey = spawnSync('openssl', ['pkey', '-pubout'], { input: keys.stdout, encoding: 'utf8' });
  const rpOptions: Record<string, unknown> = {};
  const exported: Record<string, unknown> = {};
  const extraClaims: Record<string, unknown> = {};
  for (const rp of options.rps) {
    rpOptions[rp.key] = {
      oidcRPMetaDataOptionsClientID: rp.clientId,
      oidcRPMetaDataOptionsClientSecret: rp.clientSecret,
      oidcRPMetaDataOptionsRedirectUris: rp.redirectUris.join(' '),
      oidcRPMetaDataOptionsPostLogoutRedirectUris: (rp.postLogoutRedirectUris ?? []).join(' '),
      oidcRPMetaDataOptionsIDTokenSignAlg: 'RS256',
      // Every exported claim in the ID token, not only in userinfo.
      oidcRPMetaDataOptionsIDTokenForceClaims: 1,
      oidcRPMetaDataOptionsBypassConsent: 1,
      oidcRPMetaDataOptionsRefreshToken: 1,
      oidcRPMetaDataOptionsLogoutBypassConfirm: 1,
      ...(rp.accessTokenTtl ? { oidcRPMetaDataOptionsAccessTokenExpiration: rp.accessTokenTtl, oidcRPMetaDataOptionsIDTokenExpiration: rp.accessTokenTtl } : {}),
      ...(rp.frontchannelLogoutUri
        ? { oidcRPMetaDataOptionsLogoutType: 'front', oidcRPMetaDataOptionsLogoutUrl: rp.frontchannelLogoutUri, oidcRPMetaDataOptionsLogoutSessionRequired: 1 }
        : {}),
    };
    // claim → session attribute; `groups` as a JSON array ("string;always").
    exported[rp.key] = { email: 'mail', name: 'cn', preferred_username: 'uid', groups: 'groups;string;always' };
    extraClaims[rp.key] = { groups: 'groups' };
  }
  const storage = (name: string) => ({ Directory: join(dir, name), LockDirectory: join(dir, name, 'lock') });
  return {
    ...base,
    cfgNum: 1,
    portal: `${issuer}/`,
    domain: '127.0.0.1',
    securedCookie: 1,
    globalStorageOptions: { ...storage('sessions'), generateModule: 'Lemonldap::NG::Common::Apache::Session::Generate::SHA256' },
    persistentStorageOptions: storage('psessions'),
    localSessionStorageOptions: { cache_depth: 3, cache_root: join(dir, 'cache'), default_expires_in: 600, directory_umask: '007', namespace: 'llng-sessions' },
    locationRules: { '127.0.0.1': { default: 'accept' } },
    exportedHeaders: {},
    applicationList: {},
    reloadUrls: {},
    notification: 0,
    issuerDBOpenIDConnectActivation: 1,
    oidcServiceMetaDataIssuer: issuer,
    oidcServicePrivateKeySig: keys.stdout,
    oidcServicePublicKeySig: publicKey.stdout,
    oidcServiceKeyIdSig: 'llng-test-1',
    oidcServiceIgnoreScopeForClaims: 1,
    oidcRPMetaDataOptions: rpOptions,
    oidcRPMetaDataExportedVars: exported,
    oidcRPMetaDataOptionsExtraClaims: extraClaims,
  };
}

function portalServer(socket: string): string {
  return `root ${PORTAL_HTDOCS}/;
include /etc/nginx/mime.types;
if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {
  rewrite ^/(.*)$ /index.psgi/$1 break;
}
location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {
  include /etc/nginx/fastcgi_params;
  fastcgi_pass unix:${socket};
  fastcgi_param HTTP_HOST $host:$server_port;
  fastcgi_param HTTPS on;
  fastcgi_param LLTYPE psgi;
  fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
  fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
  fastcgi_param PATH_INFO $fastcgi_path_info;
}
index index.psgi;
location / { try_files $uri $uri/ =404; }
location /static/ { alias ${PORTAL_HTDOCS}/static/; }
location /javascript/ { alias /usr/share/javascript/; }`;
}

const START_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 256 * 1024;

export async function startLemonldap(options: LemonldapOptions): Promise<Lemonldap> {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-llng-'));
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const root = process.getuid?.() === 0;
  // llng-fastcgi-server refuses to run as root: as root it drops to www-data, who must reach the temp dir.
  const owner = root ? Number(spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).stdout.trim()) : undefined;
  const group = root ? Number(spawnSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).stdout.trim()) : undefined;
  await chmod(dir, 0o755);
  for (const sub of ['conf', 'sessions/lock', 'psessions/lock', 'cache', 'run']) await mkdir(join(dir, sub), { recursive: true });
  await writeFile(join(dir, 'conf', 'lmConf-1.json'), JSON.stringify(await portalConfig(issuer, dir, options), null, 1));
  await writeFile(join(dir, 'lemonldap-ng.ini'), `[all]
logLevel = ${process.env.LLNG_LOG_LEVEL ?? 'warn'}
checkTime = 1
[configuration]
type = File
dirName = ${join(dir, 'conf')}
[portal]
staticPrefix = /static
templateDir = ${PORTAL_TEMPLATES}
languages = en
[handler]
status = 0
`);
  if (owner !== undefined && group !== undefined) {
    for (const sub of ['conf', 'sessions', 'sessions/lock', 'psessions', 'psessions/lock', 'cache', 'run']) await chown(join(dir, sub), owner, group);
  }
  const socket = join(dir, 'run', 'fcgi.sock');
  let output = '';
  const fcgi: ChildProcess = spawn(LLNG_FASTCGI, [
    '--foreground', '-n', '2', '-s', socket, '-p', join(dir, 'run', 'fcgi.pid'), ...(root ? ['-u', 'www-data', '-g', 'www-data'] : []),
  ], {
    cwd: dir,
    env: { ...process.env, LLNG_DEFAULTCONFFILE: join(dir, 'lemonldap-ng.ini'), LLNG_DEFAULTLOGGER: 'Lemonldap::NG::Common::Logger::Std' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => { if (output.length < OUTPUT_LIMIT) output += chunk.toString('utf8'); };
  fcgi.stdout?.on('data', collect);
  fcgi.stderr?.on('data', collect);
  let exited = false;
  const exit = new Promise<void>((resolve) => fcgi.once('exit', () => { exited = true; resolve(); }));
  let nginx: RunningProxy | undefined;

  const stop = async () => {
    await nginx?.stop();
    if (!exited && fcgi.pid !== undefined) {
      process.kill(fcgi.pid, 'SIGTERM');
      const timer = setTimeout(() => { if (!exited && fcgi.pid !== undefined) process.kill(fcgi.pid, 'SIGKILL'); }, 5000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    nginx = await startNginx({ port, tls: { cert: join(TLS_DIR, 'cert.pem'), key: join(TLS_DIR, 'key.pem') }, server: portalServer(socket) });
    // The first request loads the configuration; until the socket exists nginx answers 502.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`llng-fastcgi-server exited at start:\n${output}`);
      const status = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.status, () => 0);
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`LemonLDAP::NG did not serve its discovery document within ${START_TIMEOUT_MS} ms (last status ${status}):\n${output.slice(-4000)}`);
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { issuer, port, output: () => output, stop };
}
