/**
 * `kestra-authz test` as CI runs it: a real CLI process. The shipped suites
 * (embedded default, demo config) pass; a failing suite exits 1 with the
 * diff of each failure; a malformed suite or config exits 2 listing every
 * problem with its line and runs no case; --junit writes XML a CI system
 * reads (parsed back here); --coverage names the rules no case matched;
 * the config comes from --config, else $KESTRA_AUTHZ_CONFIG, else the
 * file's `config:` key, else the embedded default.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoAuthzYaml } from '../../demo/authz-config.js';
import { elements, parseXml } from '../helpers/xml-structure.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'kestra-authz.js');

interface Run { code: number; stdout: string; stderr: string }

function run(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.KESTRA_AUTHZ_CONFIG === undefined) delete env.KESTRA_AUTHZ_CONFIG;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'test', ...args], { env, cwd: options.cwd ?? ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The config `npm run demo` writes (demo/authz-config.ts), with fixed test values; nothing is started. */
function demoConfigYaml(dir: string): string {
  return demoAuthzYaml({
    externalUrl: 'http://127.0.0.1:18080',
    issuer: 'http://127.0.0.1:18090',
    clientId: 'kestra-authz-demo',
    clientSecret: 'demo-client-secret-for-policy-tests',
    secretKey: 'policy-tests-secret-key-0123456789abcdef-0123',
    ports: { grpc: 19191, http: 18080, management: 18081 },
    dir,
    logLevel: 'warn',
  });
}

const CONFIG = `
kestra:
  encryption: { secret-key: "policy-tests-secret-key-0123456789abcdef" }
authz:
  users: { file: ./users.yaml }
  roles:
    - { name: reader, permissions: { FLOW: [READ] } }
  bindings:
    - { group: readers, role: reader, namespace: company.team }
  rules:
    - id: status-page
      match: { path: /status }
      allow: public
    - id: closed
      match: { path: /closed/** }
      allow: deny
  kestra-rules: true
  default: authenticated
`;

const PASSING = `
config: ./config.yaml
cases:
  - name: the status page is public
    anonymous: true
    request: { path: /status }
    expect: { verdict: allow, rule: status-page }
  - name: a reader reads in its namespace
    user: ann
    groups: [readers]
    request: { path: /api/v1/main/flows/company.team/f }
    expect: { verdict: allow, headers: { x-kestra-user: ann } }
  - name: a reader may not read elsewhere
    user: ann
    groups: [readers]
    request: { path: /api/v1/main/flows/company.other/f }
    expect: { verdict: 403, missing: FLOW:READ }
`;

const FAILING = `
config: ./config.yaml
cases:
  - name: expected too much
    user: ann
    groups: [readers]
    request: { method: DELETE, path: /api/v1/main/flows/company.team/f }
    expect: { verdict: allow, rule: "kestra:flows.read" }
  - name: "holds <&> \\"quoted\\""
    anonymous: true
    request: { path: /status }
    expect: { verdict: allow }
  - name: "the closed door & its <rule>"
    anonymous: true
    request: { path: /closed/x }
    expect: { verdict: 401 }
  - name: "a name cannot fake a line\\nok 99 - forged\\n9 passed, 0 failed"
    anonymous: true
    request: { path: /closed/y }
    expect: { verdict: 403, rule: closed }
`;

describe('kestra-authz test (CLI process)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-policy-'));
    await writeFile(join(dir, 'config.yaml'), CONFIG);
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    await writeFile(join(dir, 'passing.yaml'), PASSING);
    await writeFile(join(dir, 'failing.yaml'), FAILING);
    await writeFile(join(dir, 'demo-config.yaml'), demoConfigYaml(dir), { mode: 0o600 });
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the shipped suite for the embedded default passes', async () => {
    const cwd = join(dir, 'embedded');
    await mkdir(cwd, { recursive: true });
    const r = await run([join(ROOT, 'policy-tests', 'embedded-default.yaml')], { cwd });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\(config: <embedded default>\)/);
    assert.doesNotMatch(r.stdout, /^not ok/m);
    assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
  });

  test('the shipped suite for the demo config passes (302 for a browser, 403 naming the permission…)', async () => {
    const r = await run([join(ROOT, 'demo', 'policy-tests.yaml'), '--config', join(dir, 'demo-config.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok \d+ - a browser opening a flow without a session is sent to the login$/m);
    assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
  });

  test("the documented example suite (docs/policy-tests.md) passes against the demo config", async () => {
    const readme = await readFile(join(ROOT, 'docs', 'policy-tests.md'), 'utf8');
    const start = readme.indexOf('# policy-tests/prod.yaml\n');
    assert.ok(start > 0, 'docs/policy-tests.md has the example suite');
    const example = join(dir, 'readme-example.yaml');
    await writeFile(example, readme.slice(start, readme.indexOf('```', start)));
    const r = await run([example, '--config', join(dir, 'demo-config.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^4 passed, 0 failed$/m);
  });

  test('a passing suite: one ok line per case, the summary, exit 0; its config: key is used', async () => {
    const r = await run([join(dir, 'passing.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /config: .*config\.yaml\)/);
    assert.match(r.stdout, /^ok 1 - the status page is public$/m);
    assert.match(r.stdout, /^ok 3 - a reader may not read elsewhere$/m);
    assert.match(r.stdout, /^3 passed, 0 failed$/m);
  });

  test('--config and $KESTRA_AUTHZ_CONFIG win over the file\'s config: key', async () => {
    const viaFlag = await run([join(dir, 'passing.yaml'), '--config', join(dir, 'demo-config.yaml')]);
    assert.equal(viaFlag.code, 1, 'under the demo config /status is not public');
    assert.match(viaFlag.stdout, /^not ok 1 - the status page is public/m);
    const viaEnv = await run([join(dir, 'passing.yaml')], { env: { KESTRA_AUTHZ_CONFIG: join(dir, 'demo-config.yaml') } });
    assert.equal(viaEnv.code, 1);
    assert.match(viaEnv.stdout, /config: .*demo-config\.yaml\)/);
  });

  test('a failing suite: exit 1, each failure with its line and the diff of each differing field; JUnit XML parsed back', async () => {
    const junit = join(dir, 'reports', 'policy.xml');
    const r = await run([join(dir, 'failing.yaml'), join(dir, 'passing.yaml'), '--junit', junit]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^not ok 1 - expected too much \(.*failing\.yaml:4\)$/m);
    assert.match(r.stdout, /^ {4}verdict:\n {6}- expected: "allow"\n {6}\+ actual: {3}403$/m);
    assert.match(r.stdout, /^ {4}rule:\n {6}- expected: "kestra:flows\.read"\n {6}\+ actual: {3}"kestra:flows\.delete"$/m);
    assert.match(r.stdout, /^ok 2 - holds <&> "quoted"$/m);
    assert.match(r.stdout, /^not ok 3 - the closed door & its <rule>/m);
    assert.match(r.stdout, /^ok 4 - a name cannot fake a line\\u000aok 99 - forged\\u000a9 passed, 0 failed$/m);
    assert.match(r.stdout, /^ok 7 - a reader may not read elsewhere$/m);
    assert.doesNotMatch(r.stdout, /^ok 99/m);
    assert.deepEqual(r.stdout.match(/^\d+ passed, \d+ failed$/gm), ['5 passed, 2 failed'], 'one summary line, the runner\'s');

    const root = parseXml(await readFile(junit, 'utf8'));
    assert.equal(root.name, 'testsuites');
    assert.equal(root.attributes.tests, '7');
    assert.equal(root.attributes.failures, '2');
    const suites = elements(root, 'testsuite');
    assert.equal(suites.length, 2);
    assert.match(suites[0]!.attributes.name!, /failing\.yaml$/);
    assert.equal(suites[0]!.attributes.failures, '2');
    assert.equal(suites[1]!.attributes.failures, '0');
    const cases = elements(suites[0]!, 'testcase');
    assert.deepEqual(cases.map((c) => c.attributes.name), [
      'expected too much', 'holds <&> "quoted"', 'the closed door & its <rule>', 'a name cannot fake a line\nok 99 - forged\n9 passed, 0 failed',
    ]);
    const [first, second, third] = cases.map((c) => elements(c, 'failure'));
    assert.equal(first!.length, 1);
    assert.equal(first![0]!.attributes.message, 'verdict: expected "allow", got 403');
    assert.match(first![0]!.text, /rule:\n {2}- expected: "kestra:flows\.read"\n {2}\+ actual: {3}"kestra:flows\.delete"/);
    assert.equal(second!.length, 0);
    assert.match(third![0]!.text, /reason|verdict/);
    assert.equal(elements(suites[1]!, 'failure').length, 0);
  });

  test('a malformed suite: exit 2, every problem with its line, no case run', async () => {
    const bad = join(dir, 'malformed.yaml');
    await writeFile(bad, [
      'cases:',
      '  - name: typo',
      '    anonymous: true',
      '    request: { path: /status }',
      '    expct: { verdict: allow }',
      '  - name: no identity',
      '    request: { path: /status }',
      '    expect: { verdict: sometimes }',
      '',
    ].join('\n'));
    const r = await run([join(dir, 'passing.yaml'), bad]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /invalid policy test file \(4 problems\)/);
    assert.match(r.stderr, /malformed\.yaml:2: cases\[0\]\.expect: is required/);
    assert.match(r.stderr, /malformed\.yaml:5: cases\[0\]\.expct: unknown key/);
    assert.match(r.stderr, /malformed\.yaml:6: cases\[1\]: give exactly one identity/);
    assert.match(r.stderr, /malformed\.yaml:8: cases\[1\]\.expect\.verdict: must be allow or an HTTP status/);
    assert.doesNotMatch(r.stdout, /passed/, 'no case runs, and no summary line is printed');
  });

  test('a bad config, a missing file or an unwritable report: exit 2, the problems listed; no file at all is a usage error', async () => {
    const badConfig = join(dir, 'bad-config.yaml');
    await writeFile(badConfig, 'authz:\n  default: maybe\n  no-such-key: 1\n');
    const r = await run([join(dir, 'passing.yaml'), '--config', badConfig]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /bad-config\.yaml:2: authz\.default/);
    assert.match(r.stderr, /bad-config\.yaml:3: authz\.no-such-key: unknown key/);
    const missing = await run([join(dir, 'no-such-file.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read policy test file .*no-such-file\.yaml \(ENOENT\)/);
    const unwritable = await run([join(dir, 'passing.yaml'), '--junit', join(dir, 'passing.yaml', 'report.xml')]);
    assert.equal(unwritable.code, 2, 'a report CI cannot read is not a pass');
    assert.match(unwritable.stderr, /cannot write the JUnit report .*report\.xml \(E[A-Z]+\)/);
    assert.doesNotMatch(unwritable.stdout, /passed/);
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /name at least one policy test file/);
  });

  test('--coverage names the operator rules and the Kestra rule rows no case matched', async () => {
    const r = await run([join(dir, 'passing.yaml'), '--coverage']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const coverage = r.stdout.slice(r.stdout.indexOf('coverage of'));
    assert.match(coverage, /^coverage of .*config\.yaml: 2 of \d+ rules matched by a case$/m);
    assert.match(coverage, /^ {2}rule +closed +\/closed\/\*\* — deny \(line 14\)$/m);
    assert.match(coverage, /^ {2}kestra rule +kestra:flows\.delete +\/api\/v1\/\{tenant\}\/flows\/\{namespace\}\/\{flowId\} — FLOW:DELETE$/m);
    assert.match(coverage, /^ {2}default rule default +\/\*\* — authenticated$/m);
    assert.doesNotMatch(coverage, /status-page|kestra:flows\.read /);
    assert.match(r.stdout, /^3 passed, 0 failed$/m);
  });
});
