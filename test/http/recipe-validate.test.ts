/**
 * Each recipe's proxy config, as docs/recipes/ prints it, is accepted by the
 * real proxy: the nginx block (upstreams + server) by `nginx -t`, the Caddy
 * block by `caddy validate`. A recipe edit that breaks the syntax — a
 * directive in the wrong block, a misspelt keep-alive option — fails here,
 * not on a reader's server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CADDY_PATH, mkdirNginxTemps, NGINX_PATH, nginxMainConfig, proxySkipReason } from '../helpers/proxies.js';
import { fencedBlocks, readDoc } from '../helpers/doc-files.js';

const run = promisify(execFile);

async function firstBlock(page: string, fence: string): Promise<string> {
  const block = fencedBlocks(await readDoc(page), fence)[0];
  assert.ok(block !== undefined, `no ${fence} block in ${page}`);
  return block;
}

/** The docs name hosts `authz` and `kestra`; nginx resolves upstream servers at load, so point them at loopback. */
const loopbackHosts = (text: string) => text.replace(/\bserver authz:8080;/g, 'server 127.0.0.1:8080;').replace(/\bserver kestra:8080;/g, 'server 127.0.0.1:8081;');

async function withDir<T>(prefix: string, body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function check(command: string, args: string[], configText: string, env?: NodeJS.ProcessEnv): Promise<void> {
  try {
    await run(command, args, { env: env ?? process.env, timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    assert.fail(`${command} rejected the documented recipe:\n${e.stderr ?? ''}${e.stdout ?? ''}${e.message}\n--- config ---\n${configText}`);
  }
}

describe('documented proxy recipes are valid configs for the real proxies', () => {
  test('nginx -t accepts docs/recipes/nginx.md', async (t) => {
    const skip = await proxySkipReason('nginx');
    if (skip) return t.skip(skip);
    const recipe = loopbackHosts(await firstBlock('docs/recipes/nginx.md', '```nginx'));
    assert.match(recipe, /keepalive 32;/, 'the recipe keeps connections to the door');
    await withDir('kauthz-nginx-t-', async (dir) => {
      await mkdirNginxTemps(dir);
      const configText = nginxMainConfig(dir, recipe, 64);
      const file = join(dir, 'nginx.conf');
      await writeFile(file, configText);
      await check(NGINX_PATH, ['-t', '-q', '-c', file, '-p', dir, '-e', join(dir, 'error.log')], configText);
    });
  });

  test('docs/getting-started.md\'s edits of the nginx block find what they edit', async () => {
    const recipe = await firstBlock('docs/recipes/nginx.md', '```nginx');
    const guide = await readDoc('docs/getting-started.md');
    for (const line of ['server authz:8080;', 'server kestra:8080;']) {
      assert.ok(guide.includes(`s#${line}#`), `getting-started rewrites "${line}"`);
      assert.equal(recipe.split(line).length - 1, 1, `the recipe has exactly one "${line}"`);
    }
    for (const line of ['listen 80;', 'server_name kestra.example.com;']) {
      assert.ok(recipe.split('\n').some((l) => l.trim() === line), `the recipe's server block has "${line}", which getting-started replaces`);
    }
  });

  test('caddy validate accepts docs/recipes/caddy.md', async (t) => {
    const skip = await proxySkipReason('caddy');
    if (skip) return t.skip(skip);
    const recipe = await firstBlock('docs/recipes/caddy.md', '```');
    assert.match(recipe, /keepalive 60s/, 'the recipe keeps connections to the door');
    await withDir('kauthz-caddy-validate-', async (dir) => {
      const configText = `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${join(dir, 'data')}\n}\n\nhttp://kestra.example.com {\n${recipe}\n}\n`;
      const file = join(dir, 'Caddyfile');
      await writeFile(file, configText);
      const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') };
      await check(CADDY_PATH, ['validate', '--config', file, '--adapter', 'caddyfile'], configText, env);
    });
  });
});
