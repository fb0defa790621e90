/**
 * fast-check arbitraries for the fuzz properties: requests shaped like the
 * CheckRequests Envoy's ext_authz filter sends (method, tricky paths, host,
 * scheme, headers), with credentials that are valid, mutated, "real but
 * invalid" or garbage; and raw protobuf frames made by mutating a real
 * serialized CheckRequest.
 */
import fc from 'fast-check';
import { envoyCheckRequest, type EnvoyCheckRequest } from '../helpers/envoy-check-request.js';
import type { KnownCredentials } from './fuzz-credentials.js';

export interface RequestCase {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** Client headers; an array is a header sent several times. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** How the CheckRequest is laid out: as Envoy does, with `encode_raw_headers`, or as a sloppy non-Envoy client would. */
  readonly shape: 'envoy' | 'raw-headers' | 'upper-case-keys' | 'no-pseudo-headers' | 'fields-only';
  readonly body: string;
}

// ---- string mutation -------------------------------------------------------

const SPICE = ['', '.', '=', '==', ' ', '\t', '\r\n', '\n', '\0', '%', '%00', ';', ',', '"', '\\', 'A', '-', '_', '+', '/', 'é', '李', '🎉', '\u202e', '\uffff', '\ud800'];

type Mutation = readonly [kind: number, at: number, length: number, text: string];

const mutationArb: fc.Arbitrary<Mutation> = fc.tuple(
  fc.integer({ min: 0, max: 8 }),
  fc.nat(),
  fc.integer({ min: 1, max: 16 }),
  fc.oneof(fc.constantFrom(...SPICE), fc.string({ maxLength: 6, unit: 'binary' }), fc.base64String({ maxLength: 8 })),
);

/** Applies mutations deterministically (positions taken modulo the current length). */
export function applyMutations(input: string, mutations: readonly Mutation[]): string {
  let s = input;
  for (const [kind, at, length, text] of mutations) {
    const i = s.length ? at % (s.length + 1) : 0;
    switch (kind) {
      case 0: s = s.slice(0, i) + text + s.slice(i + 1); break; // replace one character
      case 1: s = s.slice(0, i) + s.slice(i + length); break; // delete a run
      case 2: s = s.slice(0, i) + text + s.slice(i); break; // insert
      case 3: s = s.slice(0, i); break; // truncate
      case 4: s = s + s.slice(i); break; // duplicate a tail
      case 5: s = i % 2 ? s.toUpperCase() : s.toLowerCase(); break;
      case 6: { // swap two dot-separated parts (JWT header/payload/signature)
        const parts = s.split('.');
        if (parts.length > 1) {
          const a = i % parts.length;
          const b = (a + 1 + (length % (parts.length - 1))) % parts.length;
          [parts[a], parts[b]] = [parts[b]!, parts[a]!];
          s = parts.join('.');
        }
        break;
      }
      case 7: { // flip one bit of one character
        const code = s.charCodeAt(Math.min(i, s.length - 1));
        if (s.length) s = s.slice(0, Math.min(i, s.length - 1)) + String.fromCharCode(code ^ (1 << (length % 7))) + s.slice(Math.min(i, s.length - 1) + 1);
        break;
      }
      default: s = text + s + text; // wrap
    }
  }
  return s;
}

const mutated = (base: fc.Arbitrary<string>) =>
  fc.tuple(base, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([s, m]) => applyMutations(s, m));

// ---- credentials -------------------------------------------------------------

const SCHEMES = ['Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Bearer\t', 'Bearer', ' Bearer ', 'Bearer,', 'Token ', ''];
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function authorizationArb(creds: KnownCredentials): fc.Arbitrary<string> {
  const valid = fc.constantFrom(...creds.validTokens.map((t) => t.token));
  const invalid = fc.constantFrom(...creds.invalidTokens);
  const anyToken = fc.oneof(valid, invalid);
  const users = creds.validBasic;
  const knownUser = fc.constantFrom(...users.map((u) => u.username));
  const password = fc.constantFrom(...users.map((u) => u.password));
  return fc.oneof(
    { weight: 6, arbitrary: valid.map((t) => `Bearer ${t}`) },
    { weight: 12, arbitrary: mutated(valid).map((t) => `Bearer ${t}`) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...SCHEMES), anyToken).map(([s, t]) => s + t) },
    { weight: 3, arbitrary: mutated(invalid).map((t) => `Bearer ${t}`) },
    { weight: 3, arbitrary: mutated(valid.map((t) => `Bearer ${t}`)) },
    { weight: 4, arbitrary: fc.constantFrom(...users).map((u) => `Basic ${b64(`${u.username}:${u.password}`)}`) },
    // Only the password is mutated: an unknown user name costs a full-strength scrypt (~80 ms) against the dummy hash.
    { weight: 6, arbitrary: fc.tuple(knownUser, mutated(password)).map(([u, p]) => `Basic ${b64(`${u}:${p}`)}`) },
    { weight: 2, arbitrary: fc.constantFrom(...creds.invalidBasic).map(([u, p]) => `Basic ${b64(`${u}:${p}`)}`) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom('Basic ', 'basic ', 'BASIC  ', 'Basic\t', 'Basic'), mutated(fc.constantFrom(...users.map((u) => b64(`${u.username}:${u.password}`))))).map(([s, v]) => s + v) },
    { weight: 2, arbitrary: fc.base64String({ maxLength: 12 }).map((v) => `Basic ${v}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('admin', 'root', 'kestra'), fc.string({ maxLength: 8 })).map(([u, p]) => `Basic ${b64(`${u}:${p}`)}`) },
    { weight: 3, arbitrary: fc.string({ maxLength: 64, unit: 'binary' }) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'Bearer', 'Basic', 'Basic ', 'Basic Og==', 'Basic OmZvbw==', 'Digest username="x"', 'Negotiate YII=', 'Bearer ..', 'Bearer a.b.c') },
    { weight: 1, arbitrary: fc.integer({ min: 4000, max: 20_000 }).map((n) => `Bearer ${'A'.repeat(n)}`) },
  );
}

const COOKIE_NAMES = ['JWT', 'JWT_1', 'JWT_2', 'JWT_9', 'JWT_REFRESH_TOKEN', 'OAUTH2_STATE_x', 'id_token', 'jwt', ' JWT', 'JWT ', 'session', 'a'];

export function cookieArb(creds: KnownCredentials): fc.Arbitrary<string> {
  const session = fc.constantFrom(...creds.validSessions.map((s) => s.cookie));
  const token = fc.constantFrom(...creds.validTokens.map((t) => t.token));
  const piece = fc.oneof(
    { weight: 5, arbitrary: session },
    { weight: 10, arbitrary: mutated(session) },
    { weight: 3, arbitrary: fc.constantFrom(...creds.invalidSessions) },
    { weight: 3, arbitrary: token.map((t) => `id_token=${t}`) },
    { weight: 5, arbitrary: mutated(token).map((t) => `id_token=${t}`) },
    { weight: 2, arbitrary: fc.constantFrom(...creds.invalidTokens).map((t) => `id_token=${t}`) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...COOKIE_NAMES), fc.string({ maxLength: 40, unit: 'binary' })).map(([n, v]) => `${n}=${v}`) },
    { weight: 3, arbitrary: fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 })).map(([n, v]) => `${n}=${v}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 9 }).map((n) => `JWT=${n}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30, unit: 'binary' }) },
  );
  return fc.oneof(
    { weight: 10, arbitrary: fc.tuple(fc.array(piece, { minLength: 1, maxLength: 5 }), fc.constantFrom('; ', ';', ', ', ' ; ')).map(([p, sep]) => p.join(sep)) },
    // many cookies, and one huge one
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 50, max: 400 }), session).map(([n, s]) => [...Array.from({ length: n }, (_, i) => `c${i}=v${i}`), s].join('; ')) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 4000, max: 20_000 }), session).map(([n, s]) => `big=${'x'.repeat(n)}; ${s}`) },
  );
}

// ---- paths -------------------------------------------------------------------

const SEGMENTS = [
  'api', 'v1', 'main', 'acme', 'flows', 'executions', 'secrets', 'company.team', 'company.team.sub', 'company', 'other',
  'admin', 'login', 'logout', 'oauth', 'callback', 'fuzzidp', 'hello', '..', '.', '%2e%2e', '%2E', '.%2e', '%2F', '%2f..', '%5c',
  '', ';', 'a;b=c', '%00', '%ff', '%', '%zz', '%252e%252e', 'é', '%C3%A9', '李', '*', '**', '{namespace}', ' ', 'flows%2F..',
];

const segmentArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 2, arbitrary: fc.webSegment() },
  { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }) },
);

const QUERIES = ['', '?', '?page=1', '?code=abc&state=def', '?error=access_denied&state=x', '?redirect=//evil.example', '?a=%0d%0aSet-Cookie:x=1', '#frag', '?x=1#y'];

export const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(
    fc.constantFrom('main', 'acme', 'other', '..', '%2e%2e', 'main%2F..', ''),
    fc.constantFrom('flows', 'executions', 'secrets', 'FLOWS', 'flows/', 'flows/..', 'flows;x'),
    fc.constantFrom('company.team', 'company.team.sub', 'company', 'company.teamx', '..', 'company.team%2F..%2Fother', ''),
    fc.array(segmentArb, { maxLength: 3 }),
    fc.constantFrom(...QUERIES),
  ).map(([t, kind, ns, rest, q]) => `/api/v1/${t}/${kind}/${ns}${rest.length ? `/${rest.join('/')}` : ''}${q}`) },
  { weight: 2, arbitrary: fc.tuple(
    fc.constantFrom('/login', '/logout', '/oauth/login/fuzzidp', '/oauth/login/other', '/oauth/callback/fuzzidp', '/oauth/callback/x/y', '/LOGIN', '/login/'),
    fc.constantFrom(...QUERIES),
  ).map(([p, q]) => p + q) },
  { weight: 4, arbitrary: fc.tuple(fc.array(segmentArb, { maxLength: 8 }), fc.constantFrom('/', '//', '/./', '\\'), fc.constantFrom(...QUERIES))
    .map(([segs, sep, q]) => `/${segs.join(sep)}${q}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '*', 'relative/path', 'http://evil.example/x', '//evil.example', '/admin/../api', '/ADMIN/x', '/admin%2f..%2fx') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.integer({ min: 2000, max: 16_000 }).map((n) => `/${'a/'.repeat(n / 2)}`) },
);

// ---- headers and the whole request ---------------------------------------------

const headerValueArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'a\r\nx-injected: 1', '\0', 'true', '127.0.0.1', 'https', 'admin', 'main') },
);

const headerNameArb = fc.oneof(
  fc.constantFrom(
    'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-forwarded-uri', 'x-real-ip',
    'x-kestra-user', 'x-kestra-email', 'x-kestra-groups', 'x-kestra-tenant', 'x-kestra-identity', 'x-envoy-internal',
    'origin', 'referer', 'x-requested-with', 'sec-fetch-mode', 'sec-fetch-dest', 'content-type', ':path', ':method', ':authority',
    'host', 'Authorization', 'COOKIE', 'x-original-url', 'forwarded',
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);

const acceptArb = fc.constantFrom('text/html,application/xhtml+xml', 'application/json', '*/*', 'text/html;q=0.1, application/json', '');

export function requestCaseArb(creds: KnownCredentials): fc.Arbitrary<RequestCase> {
  return fc.record({
    method: fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      { weight: 1, arbitrary: fc.constantFrom('get', 'CONNECT', 'TRACE', 'PROPFIND', '', ' GET', 'G\r\nET') },
      { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: 'binary' }) },
    ),
    path: pathArb,
    host: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('kestra.example.com', 'KESTRA.example.com', 'kestra.example.com:443', 'localhost:10000', 'evil.example') },
      { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: 'binary' }) },
    ),
    scheme: fc.constantFrom('http', 'https'),
    headers: fc.record({
      authorization: fc.oneof(authorizationArb(creds), fc.tuple(authorizationArb(creds), authorizationArb(creds)).map(([a, b]) => [a, b])),
      cookie: cookieArb(creds),
      accept: acceptArb,
      'x-request-id': fc.oneof(fc.uuid(), fc.string({ maxLength: 40, unit: 'binary' })),
      extra: fc.dictionary(headerNameArb, fc.oneof(headerValueArb, fc.array(headerValueArb, { minLength: 2, maxLength: 3 })), { maxKeys: 6 }),
    }, { requiredKeys: ['x-request-id'] }).map(({ extra, ...known }) => ({ ...extra, ...known }) as Record<string, string | string[]>),
    shape: fc.constantFrom('envoy', 'envoy', 'envoy', 'envoy', 'raw-headers', 'upper-case-keys', 'no-pseudo-headers', 'fields-only'),
    body: fc.oneof(
      { weight: 8, arbitrary: fc.constant('') },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...creds.validBasic), fc.string({ maxLength: 10 })).map(([u, p]) => `username=${encodeURIComponent(u.username)}&password=${encodeURIComponent(p)}`) },
      { weight: 1, arbitrary: fc.string({ maxLength: 60, unit: 'binary' }) },
    ),
  });
}

const FIXED_TIME = new Date('2025-01-01T00:00:00Z');

/** The CheckRequest object (proto-loader's snake_case shape) for a case. Deterministic. */
export function checkRequestOf(c: RequestCase): EnvoyCheckRequest {
  const check = envoyCheckRequest({
    method: c.method, path: c.path, host: c.host, scheme: c.scheme, headers: c.headers as Record<string, string | string[]>,
    id: '1', time: FIXED_TIME, sourceAddress: '203.0.113.7:54321', encodeRawHeaders: c.shape === 'raw-headers', protocol: 'HTTP/2',
  });
  const http = check.attributes.request.http as EnvoyCheckRequest['attributes']['request']['http'] & { body?: string };
  if (c.body) http.body = c.body;
  if (c.shape === 'upper-case-keys' && http.headers) {
    http.headers = Object.fromEntries(Object.entries(http.headers).map(([k, v], i) => [i % 2 ? k.toUpperCase() : k, v]));
  } else if (c.shape === 'no-pseudo-headers' && http.headers) {
    for (const k of Object.keys(http.headers)) if (k.startsWith(':')) delete http.headers[k];
  } else if (c.shape === 'fields-only' && http.headers) {
    // A minimal non-Envoy client: no pseudo-headers, method/path/host only in the HttpRequest fields.
    http.headers = { authorization: http.headers.authorization ?? '' };
  }
  return check;
}

// ---- raw frames ------------------------------------------------------------------

type FrameMutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'append' | 'insert' | 'overwrite'; readonly at: number; readonly bytes: Uint8Array };

const frameMutationArb: fc.Arbitrary<FrameMutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('append' as const, 'insert' as const, 'overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
);

export function mutateFrame(frame: Uint8Array, mutations: readonly FrameMutation[]): Uint8Array {
  let out = Buffer.from(frame);
  for (const m of mutations) {
    const at = out.length ? m.at % out.length : 0;
    if (m.kind === 'flip') { if (out.length) out[at] = out[at]! ^ (1 << m.bit); }
    else if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'append') out = Buffer.concat([out, m.bytes]);
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else { out = Buffer.from(out); Buffer.from(m.bytes).copy(out, at); }
  }
  return out;
}

/**
 * A frame: an intact serialized CheckRequest, a mutated one, two concatenated
 * (protobuf merges them), or random bytes. `serialize` is the method's requestSerialize.
 */
export function frameArb(creds: KnownCredentials, serialize: (value: object) => Uint8Array): fc.Arbitrary<Uint8Array> {
  const real = requestCaseArb(creds).map((c) => serialize(checkRequestOf(c)));
  return fc.oneof(
    { weight: 3, arbitrary: real },
    { weight: 10, arbitrary: fc.tuple(real, fc.array(frameMutationArb, { minLength: 1, maxLength: 6 })).map(([f, m]) => mutateFrame(f, m)) },
    { weight: 1, arbitrary: fc.tuple(real, real).map(([a, b]) => Buffer.concat([a, b])) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  );
}
