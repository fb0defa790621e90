/** parseArgs: the forms it accepts and the usage errors it gives (naming flags, never values). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../src/cli/parse-args.js';
import { AuthzError } from '../../src/core/errors.js';

const SPECS = { username: { type: 'string' }, admin: { type: 'boolean' }, tenant: { type: 'string' } } as const;

function usageError(args: string[], message: RegExp, mustNotContain?: string): void {
  assert.throws(() => parseArgs(args, SPECS), (err: unknown) => {
    assert.ok(err instanceof AuthzError);
    assert.equal(err.code, 'ERR_CLI_USAGE');
    assert.match(err.message, message);
    if (mustNotContain) assert.ok(!err.message.includes(mustNotContain), err.message);
    return true;
  });
}

describe('parseArgs', () => {
  test('--flag value, --flag=value, booleans and positionals in any order', () => {
    assert.deepEqual(parseArgs(['ops', '--admin', '--tenant=acme', 'secret-1', '--username', 'x'], SPECS), {
      flags: { admin: true, tenant: 'acme', username: 'x' },
      positionals: ['ops', 'secret-1'],
    });
  });

  test('values may contain "=" and be empty; booleans take =true/=false', () => {
    assert.deepEqual(parseArgs(['--tenant=a=b', '--username=', '--admin=false'], SPECS).flags, { tenant: 'a=b', username: '', admin: false });
    assert.equal(parseArgs(['--admin=TRUE'], SPECS).flags.admin, true);
  });

  test('"--" ends the options; "-" alone is a positional; --flag=--x is a value', () => {
    assert.deepEqual(parseArgs(['--', '--admin', '-x'], SPECS).positionals, ['--admin', '-x']);
    assert.deepEqual(parseArgs(['-'], SPECS).positionals, ['-']);
    assert.equal(parseArgs(['--username=--x'], SPECS).flags.username, '--x');
  });

  test('unknown flags are named, with the expected ones', () => {
    usageError(['--superadmin'], /unknown option --superadmin \(expected one of: --username, --admin, --tenant\)/);
    usageError(['-u', 'ops'], /unknown option -u/);
  });

  test('something that does not look like a flag is not echoed (it may be a password)', () => {
    usageError(['ops', '-S3cr3t!pass'], /unknown option \(not shown/, 'S3cr3t');
  });

  test('a string flag without a value, a value on a boolean, a repeated flag', () => {
    usageError(['--username'], /option --username needs a value/);
    usageError(['--username', '--admin'], /option --username needs a value/);
    usageError(['--admin=maybe'], /option --admin takes no value/, 'maybe');
    usageError(['--tenant', 'a', '--tenant=b'], /option --tenant is given more than once/);
  });

  test('inherited object keys are not flags', () => {
    usageError(['--constructor'], /unknown option --constructor/);
    usageError(['--__proto__=x'], /unknown option/);
  });
});
