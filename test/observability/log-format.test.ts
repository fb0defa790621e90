/**
 * `authz.log.format` / `serve --log-format`: which form is chosen (auto =
 * pretty on a terminal, JSON otherwise; the flag wins), the shape of a
 * pretty line, that the JSON form's redaction holds in the pretty one, that
 * a logged value cannot forge a second line, and that a wrong value is
 * refused naming the key (config) or the flag (CLI) — through the real
 * `kestra-authz serve` process, on a pipe and on a pseudo-terminal.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, REDACTED_FIELDS } from '../../src/observability/logger.js';
import { prettyLine, resolveLogFormat, takeLogFormatFlag } from '../../src/observability/log-format.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { load, problemsOf, SECRET, yamlLines } from '../config/config-problems.js';
import { freePort } from '../helpers/free-port.js';
import { becomesReady, exitCodeAfterSigterm } from '../helpers/serve-process.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
const SCRIPT_SKIP = await scriptMissing();
const PRETTY = /^\d{2}:\d{2}:\d{2}\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /;

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk: Buffer | string, _enc, cb) { chunks.push(chunk.toString()); cb(); } });
  return { stream, text: () => chunks.join('') };
}

function capture(): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, out, err };
}

describe('log format', () => {
  test('auto is pretty on a terminal and JSON elsewhere; json and pretty are fixed', () => {
    assert.equal(resolveLogFormat('auto', true), 'pretty');
    assert.equal(resolveLogFormat('auto', false), 'json');
    assert.equal(resolveLogFormat('auto', undefined), 'json');
    for (const tty of [true, false, undefined]) {
      assert.equal(resolveLogFormat('json', tty), 'json');
      assert.equal(resolveLogFormat('pretty', tty), 'pretty');
    }
  });

  test('a pretty line: UTC time of day, level, message, key=value', () => {
    const line = prettyLine(JSON.stringify({
      level: 'warn', time: '2026-12-06T19:42:07.123Z', pid: 42, name: 'kestra-authz', msg: 'config reloaded',
      source: '/etc/kestra-authz.yaml', jwksNew: 1, ok: true, keys: ['authz.listen'], note: 'two words', empty: '',
    }), { showPid: false });
    assert.equal(line, '19:42:07.123 WARN  config reloaded source=/etc/kestra-authz.yaml jwksNew=1 ok=true keys=["authz.listen"] note="two words" empty=""');
    assert.match(prettyLine(JSON.stringify({ level: 'info', time: '2026-12-06T01:02:03.004Z', pid: 7, msg: 'x' }), { showPid: true }), /^01:02:03\.004 INFO  x pid=7$/);
  });

  test('the logger writes pretty lines, the same record as its JSON form', () => {
    const json = sink();
    const pretty = sink();
    const record = { requestId: 'r-1', mode: 'grpc', method: 'GET', path: '/api/v1/main/flows', status: 401, reason: 'no_credentials' };
    createLogger('info', json.stream).info(record, 'deny');
    createLogger('info', pretty.stream, 'pretty').info(record, 'deny');
    const parsed = JSON.parse(json.text()) as Record<string, unknown>;
    assert.equal(parsed.msg, 'deny');
    const lines = pretty.text().split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, PRETTY);
    assert.ok(lines[0]!.endsWith(' INFO  deny requestId=r-1 mode=grpc method=GET path=/api/v1/main/flows status=401 reason=no_credentials'), lines[0]);
  });

  test('redaction holds in pretty mode: every redacted field of the JSON form is redacted in the pretty one', () => {
    const secrets: string[] = [];
    const record: Record<string, unknown> = {};
    // Each top-level field, and each '*.field' under an object, gets its own secret.
    for (const path of REDACTED_FIELDS) {
      const value = `S3CRET-${secrets.length}-${path.replace(/\W/g, '')}`;
      secrets.push(value);
      const [a, b] = path.split('.') as [string, string | undefined];
      if (b === undefined) record[a] = value;
      else {
        const parent = a === '*' ? `nested${secrets.length}` : a;
        record[parent] = { ...(record[parent] as object | undefined), [b]: value };
      }
    }
    const json = sink();
    const pretty = sink();
    createLogger('info', json.stream).info(record, 'login failed');
    createLogger('info', pretty.stream, 'pretty').info(record, 'login failed');
    for (const secret of secrets) {
      assert.ok(!json.text().includes(secret), `JSON form shows ${secret}`);
      assert.ok(!pretty.text().includes(secret), `pretty form shows ${secret}`);
    }
    const count = (s: string) => s.split('[redacted]').length - 1;
    assert.equal(count(pretty.text()), count(json.text()));
    assert.ok(count(pretty.text()) >= REDACTED_FIELDS.length - 2, pretty.text());
  });

  test('a logged value cannot forge a line or send terminal escapes', () => {
    const pretty = sink();
    const logger = createLogger('info', pretty.stream, 'pretty');
    logger.info({ path: '/x\n19:00:00.000 INFO  allow user=admin', agent: 'a\u001b[2Jb', sep: 'p\u2028q' }, 'deny\r\nforged');
    const text = pretty.text();
    assert.equal(text.split('\n').filter(Boolean).length, 1, text);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(text), JSON.stringify(text));
    assert.ok(text.includes('deny\\r\\nforged') && text.includes('\\u001b[2J') && text.includes('\\u2028'), text);
  });

  test("an error's stack follows its line, indented", () => {
    const pretty = sink();
    createLogger('info', pretty.stream, 'pretty').error({ err: new Error('boom') }, 'store down');
    const [first, ...rest] = pretty.text().split('\n').filter(Boolean);
    assert.match(first!, / ERROR store down err=boom$/);
    assert.ok(rest.length > 0 && rest.every((l) => l.startsWith('    at ')), pretty.text());
  });

  test('authz.log.format: default auto, json and pretty load, a wrong value is refused naming the key and the choices', async () => {
    const head = ['kestra:', `  encryption: { secret-key: "${SECRET}" }`, 'authz:'];
    assert.equal(load(yamlLines(...head, '  log: { level: info }')).log.format, 'auto');
    assert.equal(load(yamlLines(...head, '  log: { format: pretty }')).log.format, 'pretty');
    assert.equal(load(yamlLines(...head, '  log: { format: JSON }')).log.format, 'json');
    const problems = problemsOf(yamlLines(...head, '  log:', '    format: xml'));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.key, 'authz.log.format');
    assert.equal(problems[0]!.line, 5);
    assert.match(problems[0]!.message, /auto \| json \| pretty/);

    const dir = await mkdtemp(join(tmpdir(), 'kauthz-logfmt-check-'));
    try {
      const file = join(dir, 'config.yaml');
      await writeFile(file, yamlLines(...head, '  log: { format: colour }'));
      const run = capture();
      assert.equal(await main(['config', 'check', '--config', file], run.io), 1);
      const said = run.err.join('\n');
      assert.match(said, /authz\.log\.format/);
      assert.match(said, /auto \| json \| pretty/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--log-format: parsed with either spelling; a wrong value is a usage error naming the choices', async () => {
    assert.deepEqual(takeLogFormatFlag(['--config', 'c.yaml', '--log-format', 'pretty']), { format: 'pretty', rest: ['--config', 'c.yaml'] });
    assert.deepEqual(takeLogFormatFlag(['--log-format=json']), { format: 'json', rest: [] });
    assert.deepEqual(takeLogFormatFlag(['--workers', '1']), { rest: ['--workers', '1'] });
    assert.match(String(takeLogFormatFlag(['--log-format'])), /must be one of auto \| json \| pretty, got ""/);
    const run = capture();
    assert.equal(await main(['serve', '--log-format', 'xml'], run.io), 2);
    assert.match(run.err.join('\n'), /^serve: --log-format must be one of auto \| json \| pretty, got "xml"/);
  });
});

describe('kestra-authz serve: the log format chosen', () => {
  /** Starts serve with `format` in the config and `flag` on the command line, on a pipe or a pseudo-terminal; returns stdout. */
  async function serveOutput(format: string | undefined, flag: string[], terminal = false): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kauthz-logfmt-'));
    const [grpcPort, httpPort, mgmtPort] = [await freePort(), await freePort(), await freePort()];
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, yamlLines(
      'kestra:',
      `  encryption: { secret-key: "${SECRET}" }`,
      'authz:',
      `  listen: { grpc: "127.0.0.1:${grpcPort}", http: "127.0.0.1:${httpPort}", management: "127.0.0.1:${mgmtPort}" }`,
      `  users: { file: ${join(dir, 'users.yaml')} }`,
      `  log: { level: info${format === undefined ? '' : `, format: ${format}`} }`,
    ));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    const args = [BIN, 'serve', '--config', configPath, '--workers', '1', ...flag];
    // script(1) gives the server a pseudo-terminal as stdout, as an operator's shell does.
    // It runs the command through $SHELL -c; `exec` makes the server replace that
    // shell, for dash (sh when SHELL is unset, as in CI) would otherwise also get
    // the Ctrl-C below and, once the server had exited 0, die of it (130).
    // SHELL is pinned to sh so every machine runs what CI runs.
    const child = terminal
      ? spawn('script', ['-qfec', `exec ${[process.execPath, ...args].map((a) => `'${a}'`).join(' ')}`, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, SHELL: '/bin/sh' },
      })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      assert.ok(await becomesReady(mgmtPort), `serve did not become ready:\n${out}`);
      if (terminal) {
        // Ctrl-C on the terminal: the line discipline sends SIGINT to the server, which stops cleanly.
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.stdin!.write('\u0003');
        assert.equal(await exited, 0, out);
      } else {
        assert.equal(await exitCodeAfterSigterm(child), 0, out);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
    return out;
  }

  const logLines = (out: string) => out.split(/\r?\n/).filter((l) => l.trim() !== '');

  test('on a pipe: auto gives JSON; --log-format pretty wins over json in the config; --log-format json over pretty', async () => {
    const auto = logLines(await serveOutput(undefined, []));
    assert.ok(auto.length >= 2 && auto.every((l) => JSON.parse(l) !== null), auto.join('\n'));
    assert.ok(auto.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'shutting down'));

    const pretty = logLines(await serveOutput('json', ['--log-format', 'pretty']));
    assert.ok(pretty.length >= 2 && pretty.every((l) => PRETTY.test(l) || l.startsWith('    ')), pretty.join('\n'));
    assert.ok(pretty.some((l) => / INFO  shutting down signal=SIGTERM$/.test(l)), pretty.join('\n'));

    const fromConfig = logLines(await serveOutput('pretty', []));
    assert.ok(fromConfig.some((l) => / INFO  shutting down signal=SIGTERM$/.test(l)), fromConfig.join('\n'));

    const json = logLines(await serveOutput('pretty', ['--log-format=json']));
    assert.ok(json.every((l) => JSON.parse(l) !== null), json.join('\n'));
  });

  test('on a terminal: auto gives pretty lines', { skip: SCRIPT_SKIP }, async () => {
    const lines = logLines(await serveOutput(undefined, [], true));
    const serverLines = lines.filter((l) => PRETTY.test(l));
    assert.ok(serverLines.length >= 1, lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith('{')), lines.join('\n'));
  });
});

async function scriptMissing(): Promise<string | false> {
  const found = await new Promise<boolean>((resolve) => execFile('script', ['--version'], (err) => resolve(!err)));
  if (found) return false;
  if (process.env.CI === 'true') throw new Error('script(1) (util-linux) is needed for the terminal log test under CI');
  return 'script(1) (util-linux) is not installed: the terminal case is not checked';
}
