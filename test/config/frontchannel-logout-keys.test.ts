/**
 * `authz.oidc.frontchannel-logout-sid-optional-clients` (issue 15): default
 * none (every client's front-channel logout needs iss + sid); a listed name
 * must be a configured login client, or a typo would silently keep the
 * stricter default — or loosen a client added later without review.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, oauthClientLines, problemsOf, where, yamlLines } from './config-problems.js';

const yaml = (...authzOidc: string[]) => yamlLines(
  ...oauthClientLines('llng'),
  'authz:',
  '  oidc:',
  ...authzOidc,
);

describe('front-channel logout keys', () => {
  test('default: no client may log out without iss + sid', () => {
    assert.deepEqual(load(yaml('    allow-insecure-http-issuers: false')).oidc.frontchannelLogoutSidOptionalClients, []);
  });

  test('names must be configured login clients', () => {
    assert.deepEqual(load(yaml('    frontchannel-logout-sid-optional-clients: [llng]')).oidc.frontchannelLogoutSidOptionalClients, ['llng']);
    const problems = problemsOf(yaml('    frontchannel-logout-sid-optional-clients: [llng, lemon]'));
    assert.deepEqual(where(problems), [['authz.oidc.frontchannel-logout-sid-optional-clients[1]', 11]]);
    assert.match(problems[0]!.message, /no client "lemon"/);
  });
});
