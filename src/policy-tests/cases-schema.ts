/**
 * The policy test file (`kestra-authz test FILE`): a `config:` path
 * (optional) and a list of cases, each a request, an identity by shorthand
 * and the expected verdict. Strict like the config: an unknown key is a
 * problem naming its line, never silently ignored (a misspelt `expect` key
 * would otherwise make a case pass without checking anything).
 */
import { z } from 'zod';
import { spiffeIdProblem } from '../authz/spiffe-id.js';

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9a-z-]+$/i, 'must be an HTTP header name');
const text = z.string().min(1);

const request = z.strictObject({
  method: z.string().regex(/^[A-Za-z]{1,20}$/, 'must be an HTTP method (GET, POST…)').default('GET'),
  /** Absolute path, query string included. */
  path: z.string().startsWith('/', 'must be an absolute path starting with /'),
  host: text.optional(),
  scheme: z.enum(['http', 'https']).optional(),
  headers: z.record(headerName, z.union([z.string(), z.number()]).transform(String)).optional(),
});

/** `allow`, or the HTTP status of the denial (302, 400, 401, 403…). */
const VERDICT = 'must be allow or an HTTP status (302, 401, 403…)';
const verdict = z.union([
  z.literal('allow'),
  z.number().int().min(300).max(599),
  z.string().regex(/^[3-5]\d\d$/).transform(Number),
], { error: (issue) => (issue.input === undefined ? 'is required' : VERDICT) });

const expectation = z.strictObject({
  verdict,
  rule: text.optional(),
  reason: text.optional(),
  /** The permission a 403 names as missing, e.g. FLOW:DELETE. */
  missing: text.optional(),
  /** Upstream request headers after an allow; null = must be absent. */
  headers: z.record(headerName, z.union([z.string(), z.number()]).transform(String).nullable()).optional(),
});

export const testCaseSchema = z
  .strictObject({
    name: text,
    request,
    anonymous: z.literal(true, { error: 'must be true (leave it out otherwise)' }).optional(),
    user: text.optional(),
    groups: z.array(text).optional(),
    email: text.optional(),
    tenant: text.optional(),
    admin: z.boolean().optional(),
    via: z.enum(['bearer', 'basic', 'session']).optional(),
    claims: z.record(z.string(), z.unknown()).optional(),
    issuer: text.optional(),
    /** The mTLS peer's SPIFFE id, as Envoy's source.principal carries it: decided by the engine's own mtls authenticator. */
    service: z.string().superRefine((v, ctx) => {
      const bad = spiffeIdProblem(v);
      if (bad) ctx.addIssue({ code: 'custom', message: bad });
    }).optional(),
    expect: expectation,
  })
  // Checked even when another key of the case is wrong (`when`): every problem is listed at once.
  .superRefine((c, ctx) => {
    const given = [c.anonymous !== undefined, c.user !== undefined, c.claims !== undefined].filter(Boolean).length;
    // `service` alone is the identity; beside user/claims it is the peer the user calls through.
    if (given > 1 || (given === 0 && c.service === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one identity: anonymous: true, user: NAME, claims: {…} or service: spiffe://… (service may also accompany user or claims)' });
    }
    if (c.service !== undefined && c.anonymous !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['anonymous'], message: 'a service case is anonymous unless the policy names the service: leave anonymous out' });
    }
    if (c.service !== undefined && given === 0 && c.via !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['via'], message: 'a service alone is authenticated via mtls: leave via out' });
    }
    const userOnly = (['groups', 'email', 'tenant', 'admin'] as const).filter((k) => c[k] !== undefined);
    if (c.user === undefined) {
      for (const key of userOnly) ctx.addIssue({ code: 'custom', path: [key], message: 'only with user: NAME (claims carry their own)' });
    }
    if (c.claims === undefined && c.issuer !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'only with claims: {…}' });
    }
    if (c.anonymous !== undefined && c.via !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['via'], message: 'an anonymous request has no via' });
    }
    if (c.claims !== undefined && c.via === 'basic') {
      ctx.addIssue({ code: 'custom', path: ['via'], message: 'claims come from a token: via bearer or session' });
    }
  }, { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) });

export const casesFileSchema = z.strictObject({
  /** The config to test, relative to this file; --config and $KESTRA_AUTHZ_CONFIG win. */
  config: text.optional(),
  cases: z.array(testCaseSchema).min(1),
});

export type TestCase = z.output<typeof testCaseSchema>;
export type CasesFile = z.output<typeof casesFileSchema>;
export type Verdict = TestCase['expect']['verdict'];
