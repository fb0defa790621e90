/**
 * Istio's MeshConfig.ExtensionProvider for the two ext_authz kinds, as a
 * strict schema. @kubernetes-models/istio types IstioOperator's `spec` as
 * free-form (the CRD preserves unknown fields), so it cannot check
 * meshConfig; no installed package ships Istio's mesh protos either. This is
 * our own transcription of the documented messages in istio/api
 * `mesh/v1alpha1/config.proto` (MeshConfig.ExtensionProvider,
 * EnvoyExternalAuthorizationHttpProvider — fields 1–13 —,
 * EnvoyExternalAuthorizationGrpcProvider — fields 1–6 —,
 * EnvoyExternalAuthorizationRequestBody — fields 1–3), under the JSON names
 * protojson gives them (lowerCamelCase), with protojson's value rules:
 * Duration is a decimal number of seconds ending in "s" ("500ms" is
 * rejected), uint32 is a non-negative integer. Unknown fields are errors,
 * as they are for istiod parsing the mesh config.
 */
import { z } from 'zod';

const UINT32_MAX = 4_294_967_295;

/** google.protobuf.Duration in proto3 JSON: "2s", "0.5s", "1.000000001s". */
export const protoDuration = z.string().regex(/^\d+(\.\d{1,9})?s$/, 'a protobuf Duration is written in seconds, like "2s" or "0.5s"');

const uint32 = z.number().int().min(0).max(UINT32_MAX);
const port = z.number().int().min(1).max(65_535);
/** Istio parses status_on_error as an HTTP status code held in a string. */
const statusCode = z.string().regex(/^[1-5]\d\d$/, 'an HTTP status code, as a string ("503")');
/** The service format: `[<Namespace>/]<Hostname>`. */
const serviceName = z.string().regex(/^([a-z0-9-]+\/)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'service is [<namespace>/]<hostname>');
/** Istio header matches: exact, "prefix*" or "*suffix" (no presence match "*"). */
const headerMatch = z.string().regex(/^(\*[a-z0-9-]+|[a-z0-9-]+\*?)$/, 'a lower-case header name, "prefix*" or "*suffix"');

const requestBody = z.strictObject({
  maxRequestBytes: uint32.optional(),
  allowPartialMessage: z.boolean().optional(),
  packAsBytes: z.boolean().optional(),
});

export const envoyExtAuthzGrpc = z.strictObject({
  service: serviceName,
  port,
  timeout: protoDuration.optional(),
  failOpen: z.boolean().optional(),
  statusOnError: statusCode.optional(),
  includeRequestBodyInCheck: requestBody.optional(),
});

export const envoyExtAuthzHttp = z.strictObject({
  service: serviceName,
  port,
  timeout: protoDuration.optional(),
  pathPrefix: z.string().regex(/^\/\S*$/, 'a path prefix starting with "/"').optional(),
  failOpen: z.boolean().optional(),
  statusOnError: statusCode.optional(),
  /** Deprecated in Istio for includeRequestHeadersInCheck. */
  includeHeadersInCheck: z.array(headerMatch).optional(),
  includeRequestHeadersInCheck: z.array(headerMatch).optional(),
  includeAdditionalHeadersInCheck: z.record(z.string(), z.string()).optional(),
  includeRequestBodyInCheck: requestBody.optional(),
  headersToUpstreamOnAllow: z.array(headerMatch).optional(),
  headersToDownstreamOnDeny: z.array(headerMatch).optional(),
  headersToDownstreamOnAllow: z.array(headerMatch).optional(),
});

/** Other provider kinds of the same oneof: allowed next to ours, not checked further here. */
const OTHER_KINDS = [
  'zipkin', 'lightstep', 'datadog', 'stackdriver', 'opencensus', 'skywalking', 'opentelemetry',
  'prometheus', 'envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls',
] as const;

export const extensionProvider = z
  .strictObject({
    name: z.string().min(1),
    envoyExtAuthzHttp: envoyExtAuthzHttp.optional(),
    envoyExtAuthzGrpc: envoyExtAuthzGrpc.optional(),
    ...Object.fromEntries(OTHER_KINDS.map((k) => [k, z.record(z.string(), z.unknown()).optional()])),
  })
  .refine((p) => ['envoyExtAuthzHttp', 'envoyExtAuthzGrpc', ...OTHER_KINDS].filter((k) => (p as Record<string, unknown>)[k] !== undefined).length === 1, {
    message: 'exactly one provider kind (the `provider` oneof) per entry',
  });

export const extensionProviders = z
  .array(extensionProvider)
  .refine((list) => new Set(list.map((p) => p.name)).size === list.length, { message: 'provider names must be unique' });

export type ExtensionProvider = z.infer<typeof extensionProvider>;
export type HttpProvider = z.infer<typeof envoyExtAuthzHttp>;

/** Istio's match rule for the header lists: exact, "prefix*", "*suffix"; header names compare case-insensitively. */
export function headerMatches(pattern: string, header: string): boolean {
  const name = header.toLowerCase();
  const p = pattern.toLowerCase();
  if (p.startsWith('*')) return name.endsWith(p.slice(1));
  if (p.endsWith('*')) return name.startsWith(p.slice(0, -1));
  return name === p;
}

export function anyMatches(patterns: readonly string[] | undefined, header: string): boolean {
  return (patterns ?? []).some((p) => headerMatches(p, header));
}
