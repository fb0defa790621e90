/**
 * An ext_authz filter in http_service mode (envoy/envoy-http.yaml) as the
 * provider shape test/deploy/istio-http-ext-authz.ts simulates, so the same
 * simulation of Envoy's HTTP check runs envoy-http.yaml's header lists
 * against the real HTTP door. Istio compiles an `envoyExtAuthzHttp` provider
 * into exactly this filter (header lists → StringMatcher lists, failOpen →
 * failure_mode_allow, statusOnError → status_on_error), so the mapping is
 * one to one. Only matchers both can express convert — exact, prefix,
 * suffix, on lower-case names (Envoy's header keys are lower-case) — and
 * anything else fails loudly rather than being simulated wrongly.
 */
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { EnvoyProtoSchema } from '../../src/server/envoy-config-check.js';
import type { HttpProvider } from '../deploy/mesh-config-schema.js';
import type { ListStringMatcher, StringMatcher } from './envoy-bootstrap.js';

let schema: EnvoyProtoSchema | undefined;

/** The number of an envoy.type.v3.StatusCode name (`ServiceUnavailable` → 503), read from Envoy's protos. */
export function httpStatusCode(name: string): number {
  schema ??= new EnvoyProtoSchema();
  const status = schema.messageType('envoy.type.v3.HttpStatus');
  const codes = status?.fields.code?.resolvedType;
  assert.ok(codes instanceof protobuf.Enum, 'envoy.type.v3.HttpStatus.code is an enum');
  const value = codes.values[name];
  assert.ok(value !== undefined, `${name} is an envoy.type.v3.StatusCode`);
  return value;
}

function istioPattern(m: StringMatcher): string {
  const kinds = (['exact', 'prefix', 'suffix'] as const).filter((k) => m[k] !== undefined);
  assert.equal(kinds.length, 1, `one exact/prefix/suffix per matcher: ${JSON.stringify(m)}`);
  assert.equal(Object.keys(m).filter((k) => k !== 'ignore_case').length, 1, `no other matcher kind: ${JSON.stringify(m)}`);
  const value = m[kinds[0]!]!;
  assert.equal(value, value.toLowerCase(), `"${value}": Envoy's header keys are lower-case, an upper-case pattern never matches`);
  return kinds[0] === 'prefix' ? `${value}*` : kinds[0] === 'suffix' ? `*${value}` : value;
}

function patterns(list: ListStringMatcher | undefined): string[] | undefined {
  return list ? list.patterns.map(istioPattern) : undefined;
}

/** The ExtAuthz typed_config of an http_service filter, with the door's address (from the cluster). */
export function providerOfExtAuthz(extAuthz: any, service: { address: string; port: number }): HttpProvider {
  const http = extAuthz.http_service;
  assert.ok(http, 'ext_authz is in http_service mode');
  assert.equal(http.authorization_request?.allowed_headers, undefined, 'the request header list is ExtAuthz.allowed_headers');
  const response = http.authorization_response ?? {};
  const body = extAuthz.with_request_body;
  const provider: HttpProvider = {
    service: service.address,
    port: service.port,
    timeout: http.server_uri.timeout,
    pathPrefix: http.path_prefix,
    failOpen: extAuthz.failure_mode_allow ?? false,
    statusOnError: String(extAuthz.status_on_error ? httpStatusCode(extAuthz.status_on_error.code) : 403),
    includeRequestHeadersInCheck: patterns(extAuthz.allowed_headers),
    headersToUpstreamOnAllow: patterns(response.allowed_upstream_headers),
    headersToDownstreamOnDeny: patterns(response.allowed_client_headers),
    headersToDownstreamOnAllow: patterns(response.allowed_client_headers_on_success),
  };
  if (body) provider.includeRequestBodyInCheck = { maxRequestBytes: body.max_request_bytes, allowPartialMessage: body.allow_partial_message };
  return provider;
}
