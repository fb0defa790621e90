/**
 * What the demo prints once everything runs: the URL to open, the users and
 * their passwords, the verdicts to expect, and every part's address. Also the
 * one machine-readable line `--json` prints instead (for tests and scripts).
 */
import type { DemoUser } from './demo-users.js';
import { READ_PATH, WRITE_PATH } from './demo-upstream.js';
import { PROVIDER_NAME } from './authz-config.js';

export interface DemoInfo {
  /** The URL to open in a browser; undefined without a proxy. */
  readonly url?: string;
  /** Why there is no proxy (Caddy missing or `--no-caddy`). */
  readonly noProxyReason?: string;
  readonly proxy?: { readonly name: 'caddy'; readonly pid: number; readonly url: string };
  readonly idp: { readonly issuer: string };
  readonly upstream: { readonly url: string };
  readonly authz: {
    readonly pid: number;
    readonly httpDoor: string;
    readonly grpcDoor: string;
    readonly management: string;
    readonly config: string;
    readonly externalUrl: string;
  };
  readonly users: readonly DemoUser[];
  readonly tempDir: string;
}

/** The verdicts the demo documents, per request (status codes as the client sees them). */
export const EXPECTED_VERDICTS: readonly { readonly request: string; readonly alice: string; readonly bob: string; readonly nobody: string }[] = [
  { request: 'GET  /', alice: '200 page', bob: '200 page', nobody: '302 to the IdP' },
  { request: `GET  ${READ_PATH}`, alice: '200 echo', bob: '200 echo', nobody: '302 (browser) / 401 (API)' },
  { request: `POST ${WRITE_PATH}`, alice: '200 echo', bob: '403 FLOW:UPDATE', nobody: '401' },
];

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);
}

function usersTable(users: readonly DemoUser[]): string {
  const lines = [`    ${pad('user', 8)}${pad('password', 16)}${pad('groups', 17)}may`];
  for (const u of users) lines.push(`    ${pad(u.login, 8)}${pad(u.password, 16)}${pad(u.groups.join(','), 17)}${u.can}`);
  return lines.join('\n');
}

function verdictsTable(): string {
  const width = Math.max(...EXPECTED_VERDICTS.map((v) => v.request.length)) + 2;
  const lines = [`    ${pad('request', width)}${pad('alice', 10)}${pad('bob', 17)}not signed in`];
  for (const v of EXPECTED_VERDICTS) lines.push(`    ${pad(v.request, width)}${pad(v.alice, 10)}${pad(v.bob, 17)}${v.nobody}`);
  return lines.join('\n');
}

export function renderBanner(info: DemoInfo): string {
  const part = (name: string, text: string) => `    ${pad(name, 28)}${text}\n`;
  const parts = '  Parts (all on 127.0.0.1, stopped together):\n'
    + (info.proxy ? part(`Caddy (pid ${info.proxy.pid})`, `${info.proxy.url} — forward_auth to the HTTP door`) : '')
    + part('IdP (oidc-provider)', `${info.idp.issuer} — plain http, so the config sets authz.oidc.allow-insecure-http-issuers: true`)
    + part('upstream (Kestra stand-in)', `${info.upstream.url} — shows the identity headers it receives`)
    + part(`kestra-authz (pid ${info.authz.pid})`, `gRPC door ${info.authz.grpcDoor} · HTTP door ${info.authz.httpDoor} · metrics ${info.authz.management}/metrics`)
    + part('config', `${info.authz.config} (temporary, removed on exit)`);

  const explain = `  Ask the decision core step by step (add --cookie 'JWT=<your browser's JWT cookie>' to ask as alice or bob):
    npx kestra-authz explain --config ${info.authz.config} --method POST --path ${WRITE_PATH}`;

  if (info.url) {
    return `
kestra-authz demo is running.

  Open ${info.url}/ and sign in as one of:

${usersTable(info.users)}

  What each should see:

${verdictsTable()}

  From a terminal (no session → 401 for API clients, 302 to the login for browsers):
    curl -i -H 'accept: application/json' ${info.url}${READ_PATH}

${parts}
${explain}

  Ctrl-C stops everything and removes the temporary files.
`;
  }
  const door = info.authz.httpDoor;
  return `
kestra-authz demo is running WITHOUT a proxy: ${info.noProxyReason ?? 'no proxy'}.
  The browser walk-through needs Caddy in front (Debian/Ubuntu: sudo apt install caddy; then run the demo again).
  Meanwhile kestra-authz answers on its doors directly:

  Users:

${usersTable(info.users)}

  HTTP door, as a proxy would ask it (no session → 401):
    curl -i ${door}/forward-auth -H 'X-Forwarded-Uri: ${READ_PATH}' -H 'accept: application/json'
  Sign in at ${door}/oauth/login/${PROVIDER_NAME} (the door then answers 404 for "/": it is not a proxy);
  send the JWT cookie your browser got with the same request to see alice or bob allowed or refused:
    curl -i ${door}/forward-auth -H 'X-Forwarded-Method: POST' -H 'X-Forwarded-Uri: ${WRITE_PATH}' --cookie 'JWT=…'
  gRPC door: ${info.authz.grpcDoor} (envoy.service.auth.v3.Authorization/Check, for Envoy)

  Expected verdicts (as seen through a proxy):

${verdictsTable()}

${parts}
${explain}

  Ctrl-C stops everything and removes the temporary files.
`;
}

/** The `--json` ready line: everything a script needs, one line. */
export function readyLine(info: DemoInfo): string {
  return JSON.stringify({
    event: 'ready',
    url: info.url ?? null,
    noProxyReason: info.noProxyReason ?? null,
    proxy: info.proxy ?? null,
    idp: info.idp,
    upstream: info.upstream,
    authz: info.authz,
    users: info.users.map((u) => ({ login: u.login, password: u.password, groups: u.groups })),
    tempDir: info.tempDir,
  });
}
