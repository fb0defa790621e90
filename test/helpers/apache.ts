/**
 * A real Apache httpd (Debian `apache2`) with mod_auth_openidc (Debian
 * `libapache2-mod-auth-openidc`) for tests: started in the foreground with
 * a generated config in its own temp dir, on a free 127.0.0.1 port, and
 * stopped by pid. Where either is missing a test skips with
 * `apacheSkipReason()`'s message, but fails in CI (CI=true).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExecutable, missingToolSkipReason } from './executables.js';
import { freePort } from './free-port.js';

export const APACHE_PATH = '/usr/sbin/apache2';
export const APACHE_MODULES = '/usr/lib/apache2/modules';
export const OPENIDC_MODULE = `${APACHE_MODULES}/mod_auth_openidc.so`;

export class ApacheUnavailableError extends Error {
  readonly code = 'ERR_APACHE_UNAVAILABLE' as const;
}

/** Why the Apache tests cannot run here (undefined when they can). Throws in CI. */
export async function apacheSkipReason(): Promise<string | undefined> {
  const unavailable = (message: string) => new ApacheUnavailableError(message);
  const binary = await missingToolSkipReason(APACHE_PATH, 'apache2', 'mod_auth_openidc tests', unavailable);
  if (binary !== undefined) return binary;
  const moduleFile = await import('node:fs/promises').then((fs) => fs.access(OPENIDC_MODULE).then(() => true, () => false));
  if (moduleFile) return undefined;
  const reason = `${OPENIDC_MODULE} not found (install Debian's 'libapache2-mod-auth-openidc' package)`;
  if (process.env.CI === 'true') throw unavailable(`${reason}; CI=true, so this is a failure, not a skip`);
  return `${reason}; skipping the mod_auth_openidc tests`;
}

export interface RunningApache {
  readonly pid: number;
  readonly url: string;
  readonly configText: string;
  /** stdout + stderr so far, and the error log. */
  output(): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts Apache with `body` (directives after the module loads and Listen)
 * in a minimal server config: prefork MPM, the modules named, the error log
 * in the temp dir (read by output()). `modules` are names like `auth_openidc` (mod_<name>.so).
 */
export async function startApache(modules: readonly string[], body: string | ((port: number) => string)): Promise<RunningApache> {
  if (!(await isExecutable(APACHE_PATH))) throw new ApacheUnavailableError(`${APACHE_PATH} not found`);
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-apache-'));
  const port = await freePort();
  const loads = ['mpm_prefork', 'authn_core', 'authz_core', ...modules].map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`).join('\n');
  // As root httpd drops its children to User; `nobody` needs nothing in dir but the error log goes to stderr.
  const user = process.getuid?.() === 0 ? 'User nobody\nGroup nogroup\n' : '';
  const configText = `ServerRoot ${dir}
ServerName 127.0.0.1
PidFile ${join(dir, 'httpd.pid')}
${loads}
${user}Listen 127.0.0.1:${port}
ErrorLog ${join(dir, 'error.log')}
LogLevel warn auth_openidc:info
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 8
${typeof body === 'function' ? body(port) : body}
`;
  const file = join(dir, 'httpd.conf');
  await writeFile(file, configText);
  let output = '';
  // Its own process group: on stop, prefork httpd signals its whole group (which would otherwise be the test runner's).
  const child = spawn(APACHE_PATH, ['-f', file, '-DFOREGROUND'], { detached: true, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, APACHE_RUN_DIR: dir, APACHE_LOCK_DIR: dir } });
  child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => { if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL'); }, 5_000);
      await exit;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!exited && !(await canConnect(port))) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`apache did not listen on 127.0.0.1:${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (exited || child.pid === undefined) {
    const log = (() => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } })();
    await stop();
    throw new Error(`apache exited at start:\n${output}${log}\n--- config ---\n${configText}`);
  }
  const errorLog = () => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } };
  return { pid: child.pid, url: `http://127.0.0.1:${port}`, configText, output: () => `${output}${errorLog()}`, stop };
}
