/**
 * The soak's traffic, as a raw-h2-client mix file: Envoy-like Check requests
 * of six kinds, each with the answer it must get.
 *
 *   cached       one Bearer token over and over (token-cache hit)        → allowed
 *   new-token    a never-seen valid token per request (RS256 verify)     → allowed
 *   basic-valid  a Basic user with the right password (cached scrypt)    → allowed
 *   basic-wrong  unknown user names from many addresses, cycled (a full
 *                scrypt each; never the valid user nor its address, so
 *                neither lockout can lock it out)                        → 401
 *   anonymous    no credentials                                          → 401
 *   rbac-denied  a valid token whose group has no binding                → 403
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_GROUP } from './bench-issuer.js';
import { envoyLikeCheckRequest } from './envoy-like-check.js';
import { checkCodec, encodeFrame, writeFramesFile } from './grpc-frames.js';
import type { MixFile } from './raw-h2-frame-source.js';
import type { TokenFile } from './soak-tokens.js';

export const SOAK_BASIC_USER = 'soak-basic';
/** The soak's own throw-away password (the users file lives in a temp dir for one run). */
export const SOAK_BASIC_PASSWORD = 'soak-only-password-7f3a';
export const SOAK_OUTSIDER_GROUP = 'soak-outsiders';
const WRONG_USER_NAMES = 5_000;

export type Expectation = 'allowed' | 401 | 403;
export const EXPECTED: Readonly<Record<string, Expectation>> = {
  cached: 'allowed', 'new-token': 'allowed', 'basic-valid': 'allowed', 'basic-wrong': 401, anonymous: 401, 'rbac-denied': 403,
};

/** Default shares of the traffic, % (basic-wrong is a rate per second instead: each costs a full scrypt). */
export const DEFAULT_SHARES: Readonly<Record<string, number>> = {
  cached: 80, 'new-token': 5, 'basic-valid': 8, anonymous: 4, 'rbac-denied': 3,
};

interface HttpAttributes {
  attributes: { source: { address: { socket_address: { address: string } } }; request: { http: { headers: Record<string, string> } } };
}

/**
 * Wrong passwords come from many client addresses (a /24 each, in the
 * carrier-grade NAT range 100.64.0.0/10 — only a value inside the request,
 * no traffic goes there): the service also blocks an address after repeated
 * failures (`authz.source-lockout`), and the valid Basic user must not share
 * a blocked address with them.
 */
function fromAddress(request: object, index: number): object {
  const address = `100.${64 + ((index >> 8) & 63)}.${index & 255}.7`;
  const attributes = (request as HttpAttributes).attributes;
  attributes.source.address.socket_address.address = address;
  attributes.request.http.headers['x-forwarded-for'] = address;
  return request;
}

function withAuthorization(request: object, value: string | undefined): object {
  const headers = (request as HttpAttributes).attributes.request.http.headers;
  if (value === undefined) delete headers.authorization;
  else headers.authorization = value;
  return request;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export interface SoakMixInit {
  readonly dir: string;
  readonly cachedToken: string;
  readonly outsiderToken: string;
  /** Never-seen tokens, and the range of them this mix may use; undefined = no new-token kind. */
  readonly newTokens?: { readonly file: TokenFile; readonly first: number; readonly count: number };
  readonly shares: Readonly<Record<string, number>>;
  /** Share of basic-wrong, % (0 = none). */
  readonly wrongShare: number;
  readonly name: string;
}

/** Writes the frames files and the mix file; returns the mix file's path and the requests the preflight checks. */
export function writeSoakMix(init: SoakMixInit): { mixFile: string; allowedSamples: object[] } {
  const codec = checkCodec();
  const frame = (request: object) => encodeFrame(codec.serializeRequest(request));
  const framesFile = (name: string, requests: object[]) => {
    const path = join(init.dir, `${init.name}-${name}.bin`);
    writeFramesFile(path, requests.map(frame));
    return path;
  };
  const sources: MixFile['sources'][number][] = [];
  const add = (name: string, weight: number, source: object) => { if (weight > 0) sources.push({ name, weight, ...source }); };

  const cached = envoyLikeCheckRequest({ token: init.cachedToken, sequence: 0 });
  const basicValid = withAuthorization(envoyLikeCheckRequest({ token: 'x', sequence: 1 }), basic(SOAK_BASIC_USER, SOAK_BASIC_PASSWORD));
  add('cached', init.shares.cached ?? 0, { frames: framesFile('cached', [cached]) });
  if (init.newTokens) {
    const { file, first, count } = init.newTokens;
    const template = frame(envoyLikeCheckRequest({ token: file.first, sequence: 2 }));
    const tokenOffset = template.indexOf(Buffer.from(file.first, 'latin1'));
    const templateFile = join(init.dir, `${init.name}-new-token-template.bin`);
    writeFramesFile(templateFile, [template]);
    add('new-token', init.shares['new-token'] ?? 0, { template: templateFile, tokenOffset, tokenLength: file.tokenLength, tokens: file.path, first, count });
  }
  add('basic-valid', init.shares['basic-valid'] ?? 0, { frames: framesFile('basic-valid', [basicValid]) });
  add('basic-wrong', init.wrongShare, {
    frames: framesFile('basic-wrong', Array.from({ length: WRONG_USER_NAMES }, (_, i) =>
      fromAddress(withAuthorization(envoyLikeCheckRequest({ token: 'x', sequence: i }), basic(`soak-nobody-${String(i).padStart(6, '0')}`, 'wrong-password')), i))),
  });
  add('anonymous', init.shares.anonymous ?? 0, { frames: framesFile('anonymous', [withAuthorization(envoyLikeCheckRequest({ token: 'x', sequence: 3 }), undefined)]) });
  add('rbac-denied', init.shares['rbac-denied'] ?? 0, { frames: framesFile('rbac-denied', [envoyLikeCheckRequest({ token: init.outsiderToken, sequence: 4 })]) });

  const mixFile = join(init.dir, `${init.name}-mix.json`);
  writeFileSync(mixFile, JSON.stringify({ sources } satisfies MixFile, null, 2));
  return { mixFile, allowedSamples: [cached, basicValid] };
}

/** The users file: one valid Basic user in the group the bench config binds to FLOW:READ. */
export function usersYaml(passwordHash: string): string {
  return `users:\n  - { username: ${SOAK_BASIC_USER}, password-hash: "${passwordHash}", groups: [${BENCH_GROUP}] }\n`;
}
