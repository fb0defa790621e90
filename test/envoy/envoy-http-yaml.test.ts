/**
 * envoy/envoy-http.yaml (ext_authz in HTTP mode) against Envoy's own
 * Bootstrap proto; the same edge as envoy/envoy.yaml; the HTTP-mode
 * semantics (door, prefix, port and identity headers taken from the
 * service's own defaults); and its header lists, applied the way Envoy
 * applies them, carrying a Bearer allow, a browser login redirect and a 401
 * through the real HTTP door.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.js';
import { compileHeaderPolicy } from '../../src/core/header-policy.js';
import { checkEnvoyBootstrap, checkEnvoyYaml, EnvoyProtoSchema } from '../../src/server/envoy-config-check.js';
import { checkThroughHttpProvider, type ClientRequest, type HeaderList, type Outcome } from '../deploy/istio-http-ext-authz.js';
import type { HttpProvider } from '../deploy/mesh-config-schema.js';
import { freePort } from '../helpers/free-port.js';
import { startHttpFixture, type HttpFixture } from '../http/service-fixture.js';
import {
  bootstrapParts, clusterNamed, editedOnce, EXT_AUTHZ_FILTER, HCM_PATH, listMatches, readEnvoyFile, type BootstrapParts,
} from './envoy-bootstrap.js';
import { httpStatusCode, providerOfExtAuthz } from './envoy-http-service.js';

const HTTP_YAML = readEnvoyFile('envoy-http.yaml');
const GRPC_YAML = readEnvoyFile('envoy.yaml');
const AUTHZ_CLUSTER = 'kestra_authz_http';

/** The service with nothing configured: the defaults envoy-http.yaml must match. */
const defaults = parseConfig(`kestra: { encryption: { secret-key: "${'k'.repeat(40)}" } }\n`, 'defaults.yaml', {});

/** The first endpoint of a cluster: where Envoy sends to. */
function endpointOf(cluster: any): any {
  return cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint;
}

/** The ext_authz filter's service cluster, whichever mode. */
function authzClusterName(parts: BootstrapParts): string {
  const c = parts.extAuthz.typed_config;
  return c.http_service?.server_uri.cluster ?? c.grpc_service.envoy_grpc.cluster_name;
}

describe('envoy/envoy-http.yaml passes the Bootstrap check', () => {
  test('zero errors and zero deprecation warnings', () => {
    assert.deepEqual(checkEnvoyBootstrap(HTTP_YAML), { errors: [], warnings: [] });
  });

  test('…and the check bites on the http_service parts: a misspelt field, a timeout without unit, a matcher with two kinds', () => {
    let broken = editedOnce(HTTP_YAML, 'path_prefix: /ext_authz', 'path_prefx: /ext_authz');
    broken = editedOnce(broken, 'timeout: 0.5s', 'timeout: 500');
    broken = editedOnce(broken, '- exact: x-kestra-tenant', '- { exact: x-kestra-tenant, prefix: x-kestra- }');
    const { errors } = checkEnvoyBootstrap(broken);
    const filter = `${HCM_PATH}.http_filters[0].typed_config`;
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith(`${filter}.http_service.path_prefx: unknown field`)), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith(`${filter}.http_service.server_uri.timeout: expected a duration`)), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith(`${filter}.http_service.authorization_response.allowed_upstream_headers.patterns[`)), errors.join('\n'));
  });

  test('the request header list is ExtAuthz.allowed_headers: the one under authorization_request is deprecated', () => {
    // Why the file does not use http_service.authorization_request.allowed_headers
    // (Envoy also refuses a config that sets both).
    const old = checkEnvoyYaml([
      'http_service:',
      '  server_uri: { uri: "http://a:8080", cluster: a, timeout: 1s }',
      '  authorization_request: { allowed_headers: { patterns: [{ exact: cookie }] } }',
    ].join('\n'), 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz', new EnvoyProtoSchema());
    assert.deepEqual(old.errors, []);
    assert.match(old.warnings.join('\n'), /allowed_headers: "allowed_headers" is deprecated/);
    const { extAuthz } = bootstrapParts(HTTP_YAML);
    assert.equal(extAuthz.typed_config.http_service.authorization_request, undefined);
    assert.ok(extAuthz.typed_config.allowed_headers);
  });
});

describe('the same edge as envoy/envoy.yaml', () => {
  test('everything but the ext_authz filter, its cluster and the authz fields of the access log is identical', () => {
    // What may differ between the two files, and nothing else: a hardening
    // setting added to one file must be added to the other.
    const comparable = (text: string) => {
      const parts = bootstrapParts(text);
      const service = authzClusterName(parts);
      parts.extAuthz.typed_config = '(ext_authz)';
      parts.config.static_resources.clusters = parts.clusters.map((c) => (c.name === service ? '(authz cluster)' : c));
      const fields = parts.hcm.access_log[0].typed_config.log_format.json_format;
      for (const key of Object.keys(fields)) if (key.startsWith('authz_')) delete fields[key];
      return parts.config;
    };
    assert.deepEqual(comparable(HTTP_YAML), comparable(GRPC_YAML));
  });

  test('the authz cluster keeps the gRPC cluster\'s DNS, timeouts, buffer limit and circuit breakers', () => {
    const http = clusterNamed(bootstrapParts(HTTP_YAML), AUTHZ_CLUSTER);
    const grpcParts = bootstrapParts(GRPC_YAML);
    const grpc = clusterNamed(grpcParts, authzClusterName(grpcParts));
    for (const key of ['type', 'dns_lookup_family', 'connect_timeout', 'lb_policy', 'per_connection_buffer_limit_bytes', 'circuit_breakers']) {
      assert.deepEqual(http[key], grpc[key], key);
    }
    // Same intervals and thresholds; only the checker differs (HTTP /readyz vs gRPC health).
    const { http_health_check: httpChecker, ...httpTiming } = http.health_checks[0];
    const { grpc_health_check: grpcChecker, ...grpcTiming } = grpc.health_checks[0];
    assert.ok(httpChecker && grpcChecker);
    assert.deepEqual(httpTiming, grpcTiming);
  });

  test('the check timeout is the gRPC variant\'s', () => {
    const grpc = bootstrapParts(GRPC_YAML).extAuthz.typed_config;
    assert.equal(bootstrapParts(HTTP_YAML).extAuthz.typed_config.http_service.server_uri.timeout, grpc.grpc_service.timeout);
  });
});

describe('HTTP-mode semantics', () => {
  const parts = bootstrapParts(HTTP_YAML);
  const c = parts.extAuthz.typed_config;
  const response = c.http_service.authorization_response;

  test('ext_authz runs, and runs before the router (the last filter)', () => {
    assert.equal(parts.filters.at(-1)!.name, 'envoy.filters.http.router');
    assert.ok(parts.filters.findIndex((f) => f.name === EXT_AUTHZ_FILTER) < parts.filters.length - 1);
  });

  test('http_service to the kestra_authz_http cluster on the HTTP door\'s port, under the service\'s default prefix', () => {
    assert.equal(c.grpc_service, undefined);
    assert.equal(c.http_service.server_uri.cluster, AUTHZ_CLUSTER);
    assert.equal(c.http_service.path_prefix, defaults.http.extAuthzPrefix);
    const endpoint = endpointOf(clusterNamed(parts, AUTHZ_CLUSTER));
    assert.deepEqual(endpoint.address.socket_address, { address: 'kestra-authz', port_value: defaults.listen.http.port });
    assert.equal(new URL(c.http_service.server_uri.uri).port, String(defaults.listen.http.port));
  });

  test('the cluster speaks HTTP/1.1, retires idle connections, and is health-checked on /readyz of the management port', () => {
    const cluster = clusterNamed(parts, AUTHZ_CLUSTER);
    const options = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.equal(options['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.deepEqual(options.explicit_http_config, { http_protocol_options: {} });
    assert.ok(options.common_http_protocol_options.idle_timeout);
    assert.deepEqual(cluster.health_checks[0].http_health_check, { path: '/readyz' });
    assert.equal(endpointOf(cluster).health_check_config.port_value, defaults.listen.management.port);
  });

  test('fails closed with 503 on error; body not buffered; no gRPC-only settings', () => {
    assert.equal(c.failure_mode_allow, false);
    assert.deepEqual(c.status_on_error, { code: 'ServiceUnavailable' });
    assert.equal(httpStatusCode(c.status_on_error.code), 503);
    assert.equal(c.with_request_body, undefined);
    assert.equal(c.validate_mutations, true);
    assert.equal(c.transport_api_version, undefined);
    assert.equal(c.include_peer_certificate, undefined);
  });

  test('the check carries credentials and what tells a browser from an API; never the headers that re-describe a request', () => {
    for (const header of ['authorization', 'cookie', 'accept', 'x-requested-with', 'sec-fetch-mode', 'sec-fetch-dest', 'origin', 'referer',
      'content-type', 'x-forwarded-proto', 'x-forwarded-for', 'x-request-id', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid']) {
      assert.ok(listMatches(c.allowed_headers, header), `${header} in allowed_headers`);
    }
    // Forward-auth's description of the original request: a client at the
    // edge must not be able to send one (the door checks the prefix first;
    // this keeps it that way if it ever did not), nor an identity header.
    for (const header of ['x-forwarded-uri', 'x-original-uri', 'x-forwarded-method', 'x-original-method', 'x-forwarded-host', ...compileHeaderPolicy(defaults).identityHeaders]) {
      assert.ok(!listMatches(c.allowed_headers, header), `${header} not in allowed_headers`);
    }
  });

  test('every identity header the service can set, and the cleaned Cookie, go upstream on allow', () => {
    const identity = compileHeaderPolicy(defaults).identityHeaders;
    assert.ok(identity.length >= 4);
    for (const header of [...identity, 'cookie']) {
      assert.ok(listMatches(response.allowed_upstream_headers, header), `${header} in allowed_upstream_headers`);
    }
    // What the service names for removal does not need the list (Envoy
    // applies x-envoy-auth-headers-to-remove itself), but must not be copied
    // upstream as a header.
    assert.ok(!listMatches(response.allowed_upstream_headers, 'x-envoy-auth-headers-to-remove'));
    assert.ok(listMatches(response.dynamic_metadata_from_headers, defaults.headers.user), 'the user for the access log');
  });

  test('login redirects and challenges reach the browser; a refreshed cookie too', () => {
    for (const header of ['location', 'set-cookie', 'www-authenticate', 'content-type']) {
      assert.ok(listMatches(response.allowed_client_headers, header), `${header} in allowed_client_headers`);
    }
    assert.ok(listMatches(response.allowed_client_headers_on_success, 'set-cookie'));
    assert.ok(!listMatches(response.allowed_client_headers_on_success, defaults.headers.user), 'identity never goes back to the client');
  });

  test('the access log reads the user from the service\'s answer, not from the request', () => {
    const fields = parts.hcm.access_log[0].typed_config.log_format.json_format;
    assert.equal(fields.authz_user, `%DYNAMIC_METADATA(envoy.filters.http.ext_authz:${defaults.headers.user})%`);
  });

  test('every route goes to a cluster that exists; no route disables ext_authz', () => {
    const names = new Set(parts.clusters.map((cl) => cl.name));
    for (const vh of parts.hcm.route_config.virtual_hosts) {
      assert.equal(vh.typed_per_filter_config, undefined);
      for (const route of vh.routes) {
        assert.ok(names.has(route.route.cluster), route.route.cluster);
        assert.equal(route.typed_per_filter_config, undefined);
      }
    }
  });
});

describe('envoy-http.yaml\'s header lists, applied as Envoy applies them, against the real HTTP door', () => {
  const parts = bootstrapParts(HTTP_YAML);
  const endpoint = endpointOf(clusterNamed(parts, AUTHZ_CLUSTER)).address.socket_address;
  const provider = providerOfExtAuthz(parts.extAuthz.typed_config, { address: endpoint.address, port: endpoint.port_value });
  const HOST = 'kestra.example.com';
  /**
   * What reaches ext_authz from a browser at this edge: the browser's own
   * headers plus what the connection manager set before the filter runs
   * (x-forwarded-proto and x-forwarded-for from the connection, x-request-id),
   * and a few a client might add that must not reach the decision.
   */
  const BROWSER: Record<string, string> = {
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'accept-language': 'en',
    'accept-encoding': 'gzip, br',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-dest': 'document',
    'sec-fetch-site': 'none',
    'upgrade-insecure-requests': '1',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '203.0.113.7',
    'x-request-id': 'req-envoy-http-1',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-uri': '/api/v1/main/flows/company.team/hello',
  };
  let fx: HttpFixture;

  before(async () => { fx = await startHttpFixture(); });
  after(async () => { await fx?.stop(); });

  const through = (req: Partial<ClientRequest> & { path: string }, p: HttpProvider = provider): Promise<Outcome> =>
    checkThroughHttpProvider(p, fx.door, { method: 'GET', host: HOST, headers: {}, ...req });
  const values = (list: HeaderList, name: string): string[] => list.filter(([n]) => n === name).map(([, v]) => v);

  test('Bearer: allowed; Kestra sees the verified identity, never the client\'s spoofed one, and the client\'s other cookies', async () => {
    const out = await through({
      path: '/api/v1/main/flows/company.team/hello?revision=2',
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${await fx.devToken()}`,
        cookie: 'theme=dark',
        'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'req-envoy-http-2',
        'x-kestra-user': 'admin', 'x-kestra-groups': 'admin', 'x-kestra-email': 'admin@evil.example', 'x-kestra-tenant': 'other',
      },
    });
    assert.equal(out.allowed, true, JSON.stringify(out));
    if (!out.allowed) return;
    assert.equal(out.upstreamHeaders['x-kestra-user'], 'dev');
    assert.equal(out.upstreamHeaders['x-kestra-groups'], 'kestra-devs');
    assert.equal(out.upstreamHeaders['x-kestra-tenant'], 'main');
    assert.equal(out.upstreamHeaders['x-kestra-email'], undefined, 'a spoofed header the service does not set is removed');
    assert.equal(out.upstreamHeaders.cookie, 'theme=dark');
    assert.deepEqual(out.downstreamHeaders, []);
    // The door decided on the original request as Envoy describes it.
    const seen = fx.seen.at(-1)!;
    assert.equal(seen.path, '/api/v1/main/flows/company.team/hello');
    assert.equal(seen.query, 'revision=2');
    assert.equal(seen.host, HOST);
    assert.equal(seen.scheme, 'https');
    assert.equal(seen.sourceAddress, '203.0.113.7');
    assert.equal(seen.id, 'req-envoy-http-2');
  });

  test('a browser navigation without credentials: 302 to the login page, uncacheable — because accept/sec-fetch-* are forwarded', async () => {
    const out = await through({ path: '/', headers: BROWSER });
    assert.equal(out.allowed, false);
    if (out.allowed) return;
    assert.equal(out.status, 302);
    assert.match(values(out.downstreamHeaders, 'location')[0] ?? '', /^\/login\?redirect=%2F$/);
    assert.deepEqual(values(out.downstreamHeaders, 'cache-control'), ['no-store']);
    // Only listed headers reached the decision: not the forward-auth
    // description, not the client's x-forwarded-host, not the browser's chatter.
    const seen = fx.seen.at(-1)!;
    assert.equal(seen.path, '/');
    assert.equal(seen.host, HOST);
    for (const name of ['x-forwarded-host', 'x-forwarded-uri', 'user-agent', 'accept-language', 'upgrade-insecure-requests']) {
      assert.equal(seen.headers[name], undefined, name);
    }
    assert.equal(seen.headers['sec-fetch-mode'], 'navigate');
    // Control: the same request with accept and sec-fetch-* left out of the list is an API call.
    const narrowed = { ...provider, includeRequestHeadersInCheck: provider.includeRequestHeadersInCheck!.filter((h) => h !== 'accept' && !h.startsWith('sec-fetch')) };
    const control = await through({ path: '/', headers: BROWSER }, narrowed);
    assert.equal(control.allowed ? 200 : control.status, 401);
  });

  test('an API call without credentials: 401 with WWW-Authenticate and a JSON body reach the client', async () => {
    const out = await through({ path: '/api/v1/main/flows/company.team/hello', headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
    assert.equal(out.allowed, false);
    if (out.allowed) return;
    assert.equal(out.status, 401);
    assert.match(values(out.downstreamHeaders, 'www-authenticate')[0] ?? '', /^Bearer /);
    assert.match(values(out.downstreamHeaders, 'content-type')[0] ?? '', /json/);
    assert.equal(JSON.parse(out.body).error, 'no_credentials');
  });

  test('the door unreachable: 503, never an allow', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const out = await checkThroughHttpProvider(provider, closed, { method: 'GET', host: HOST, path: '/api/v1/main/flows', headers: { authorization: `Bearer ${await fx.devToken()}` } });
    assert.equal(out.allowed, false);
    if (out.allowed) return;
    assert.equal(out.status, 503);
  });
});
