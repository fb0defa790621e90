/**
 * envoy/envoy.yaml against Envoy's own Bootstrap proto, and the semantics the
 * deployment relies on (fail closed, ext_authz before router, HTTP/2 +
 * gRPC health check to the service, path normalization at the edge).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEnvoyBootstrap, checkEnvoyYaml, EnvoyProtoSchema } from '../../src/server/envoy-config-check.js';
import { bootstrapParts, editedOnce, escapeRegExp as escape, HCM_PATH, readEnvoyFile } from './envoy-bootstrap.js';

const ENVOY_YAML = readEnvoyFile('envoy.yaml');

function edited(search: string, replacement: string): string {
  return editedOnce(ENVOY_YAML, search, replacement);
}

function onlyError(yamlText: string): string {
  const { errors } = checkEnvoyBootstrap(yamlText);
  assert.equal(errors.length, 1, `expected one error, got: ${errors.join('\n')}`);
  return errors[0]!;
}

describe('envoy/envoy.yaml passes the Bootstrap check', () => {
  test('zero errors and zero deprecation warnings', () => {
    assert.deepEqual(checkEnvoyBootstrap(ENVOY_YAML), { errors: [], warnings: [] });
  });
});

describe('a broken copy fails with the path named', () => {
  test('unknown field', () => {
    const error = onlyError(edited('failure_mode_allow: false', 'failure_mode_allow: false\n                      fail_closed: true'));
    assert.match(error, /^static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.http_filters\[0\]\.typed_config\.fail_closed: unknown field "fail_closed" in envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthz \(line \d+\)$/);
  });

  test('wrong scalar type', () => {
    const error = onlyError(edited('port_value: 9191', 'port_value: kestra'));
    assert.match(error, /^static_resources\.clusters\[0\]\.load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: expected an integer \(uint32\), got a string/);
  });

  test('bool given as a string, duration without unit', () => {
    const { errors } = checkEnvoyBootstrap(edited('failure_mode_allow: false', 'failure_mode_allow: "false"').replace('timeout: 0.5s', 'timeout: 500'));
    assert.equal(errors.length, 2);
    assert.ok(errors.some((e) => e.startsWith(`${HCM_PATH}.http_filters[0].typed_config.failure_mode_allow: expected a bool`)));
    assert.ok(errors.some((e) => e.startsWith(`${HCM_PATH}.http_filters[0].typed_config.grpc_service.timeout: expected a duration`)));
  });

  test('unknown @type', () => {
    const error = onlyError(edited('envoy.extensions.filters.http.router.v3.Router', 'envoy.extensions.filters.http.router.v3.Routr'));
    assert.match(error, new RegExp(`^${escape(HCM_PATH)}\\.http_filters\\[1\\]\\.typed_config\\.@type: unknown @type: the type "envoy\\.extensions\\.filters\\.http\\.router\\.v3\\.Routr" is not in Envoy's protos`));
  });

  test('misspelled enum', () => {
    const error = onlyError(edited('path_with_escaped_slashes_action: REJECT_REQUEST', 'path_with_escaped_slashes_action: REJECT_REQUSET'));
    assert.match(error, new RegExp(`^${escape(HCM_PATH)}\\.path_with_escaped_slashes_action: "REJECT_REQUSET" is not a value of enum .*PathWithEscapedSlashesAction: one of .*REJECT_REQUEST`));
  });

  test('two members of one oneof', () => {
    const error = onlyError(edited('type: STRICT_DNS\n      dns_lookup_family: V4_ONLY\n      connect_timeout: 1s',
      'type: STRICT_DNS\n      cluster_type: { name: envoy.clusters.dynamic_forward_proxy }\n      dns_lookup_family: V4_ONLY\n      connect_timeout: 1s'));
    assert.match(error, /^static_resources\.clusters\[0\]\.cluster_type: "cluster_type" and "type" are both set, but only one of oneof "cluster_discovery_type" may be/);
  });

  test('a required field or oneof left out (protoc-gen-validate rules)', () => {
    const noName = onlyError(edited('    - name: kestra\n      type: STRICT_DNS', '    - type: STRICT_DNS'));
    assert.match(noName, /^static_resources\.clusters\[1\]: missing required field "name" of envoy\.config\.cluster\.v3\.Cluster/);
    const noChecker = onlyError(edited('          grpc_health_check: {}\n', ''));
    assert.match(noChecker, /^static_resources\.clusters\[0\]\.health_checks\[0\]: one of .*"grpc_health_check".* is required/);
  });

  test('YAML syntax errors name the line, never the text', () => {
    const { errors } = checkEnvoyBootstrap('admin:\n  address: [\n');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^YAML: [A-Z_]+ \(line \d+\)$/);
    assert.match(onlyError('admin: {}\nadmin: {}\n'), /^YAML: DUPLICATE_KEY/);
    assert.match(onlyError(''), /^\(root\): expected a mapping/);
  });

  test('values never appear in messages (an envoy.yaml may hold inline secrets)', () => {
    const secret = 'c2VjcmV0LXRva2VuLXZhbHVl';
    const { errors } = checkEnvoyBootstrap(edited('stat_prefix: ingress_http', `stat_prefix: ingress_http\n                generate_request_id: "${secret}"`));
    assert.equal(errors.length, 1);
    assert.ok(!errors[0]!.includes(secret));
  });
});

describe('protobuf JSON mapping details', () => {
  const schema = new EnvoyProtoSchema();
  const cluster = (body: string) => checkEnvoyYaml(`name: c\n${body}`, 'envoy.config.cluster.v3.Cluster', schema);

  test('lowerCamelCase names, wrappers as plain scalars, 64-bit integers as strings', () => {
    assert.deepEqual(cluster('connectTimeout: 2s\nperConnectionBufferLimitBytes: 1024\nhealthChecks: [{timeout: 1s, interval: 1s, unhealthyThreshold: 1, healthyThreshold: "1", tcpHealthCheck: {}}]').errors, []);
    assert.match(cluster('per_connection_buffer_limit_bytes: 4294967296').errors[0]!, /per_connection_buffer_limit_bytes: expected an integer \(uint32\), got a number out of range/);
    assert.match(cluster('per_connection_buffer_limit_bytes: -1').errors[0]!, /out of range/);
  });

  test('a field given in both spellings is an error', () => {
    assert.match(cluster('connect_timeout: 1s\nconnectTimeout: 2s').errors[0]!, /given twice/);
  });

  test('Any holding a well-known type carries it under "value"; TypedStruct is checked as its type_url', () => {
    const ok = cluster([
      'typed_extension_protocol_options:',
      '  a: { "@type": type.googleapis.com/google.protobuf.Duration, value: 1s }',
      '  b:',
      '    "@type": type.googleapis.com/xds.type.v3.TypedStruct',
      '    type_url: type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      '    value: { explicit_http_config: { http2_protocol_options: {} } }',
    ].join('\n'));
    assert.deepEqual(ok.errors, []);
    const bad = cluster([
      'typed_extension_protocol_options:',
      '  b:',
      '    "@type": type.googleapis.com/xds.type.v3.TypedStruct',
      '    type_url: type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      '    value: { explicit_http_config: { http3: {} } }',
    ].join('\n'));
    assert.match(bad.errors[0]!, /^typed_extension_protocol_options\.b\.value\.explicit_http_config\.http3: unknown field/);
  });

  test('an @type that is not a type name is refused without touching the file system', () => {
    const { errors } = cluster('typed_extension_protocol_options:\n  a: { "@type": "type.googleapis.com/../../../etc/passwd" }\n  b: { "@type": "envoy.NoSlash" }\n  c: {}');
    assert.equal(errors.length, 3);
    assert.match(errors[0]!, /a\.@type: unknown @type/);
    assert.match(errors[1]!, /b\.@type: malformed type URL/);
    assert.match(errors[2]!, /c: missing "@type"/);
  });

  test('a package loads even when a sibling file imports protos the bundle lacks', () => {
    // envoy/config/trace/v3/opencensus.proto imports OpenCensus protos that are not shipped.
    assert.ok(schema.messageType('envoy.config.trace.v3.ZipkinConfig'));
    assert.equal(schema.messageType('envoy.config.trace.v3.OpenCensusConfig'), undefined);
    assert.ok(schema.messageType('envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication'));
  });

  test('deprecated fields are warnings, not errors', () => {
    const result = cluster('http2_protocol_options: {}');
    assert.deepEqual(result.errors, []);
    assert.match(result.warnings[0]!, /^http2_protocol_options: "http2_protocol_options" is deprecated/);
  });

  test('null means unset, as in protobuf JSON', () => {
    assert.deepEqual(cluster('connect_timeout: null\nload_assignment:').errors, []);
  });
});

describe('semantics the deployment relies on', () => {
  const { config, listener, hcm, filters, extAuthz, clusters } = bootstrapParts(ENVOY_YAML);

  test('ext_authz runs, and runs before the router (the last filter)', () => {
    assert.ok(extAuthz);
    assert.equal(filters.at(-1)!.name, 'envoy.filters.http.router');
    assert.ok(filters.indexOf(extAuthz) < filters.length - 1);
  });

  test('fails closed, with 503 on error, over the v3 gRPC API, body not buffered', () => {
    const c = extAuthz.typed_config;
    assert.equal(c.failure_mode_allow, false);
    assert.equal(c.transport_api_version, 'V3');
    assert.deepEqual(c.status_on_error, { code: 'ServiceUnavailable' });
    assert.equal(c.grpc_service.timeout, '0.5s');
    assert.equal(c.with_request_body, undefined);
    assert.equal(c.http_service, undefined);
  });

  test('the gRPC service cluster exists, speaks HTTP/2 and is health-checked with grpc.health.v1', () => {
    const name = extAuthz.typed_config.grpc_service.envoy_grpc.cluster_name;
    const cluster = clusters.find((c) => c.name === name);
    assert.ok(cluster, `cluster ${name} exists`);
    const options = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.equal(options['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.ok(options.explicit_http_config.http2_protocol_options);
    assert.deepEqual(cluster.health_checks[0].grpc_health_check, {});
    assert.deepEqual(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: 'kestra-authz', port_value: 9191 });
  });

  test('every route goes to a cluster that exists', () => {
    const names = new Set(clusters.map((c) => c.name));
    for (const vh of hcm.route_config.virtual_hosts) {
      for (const route of vh.routes) assert.ok(names.has(route.route.cluster), route.route.cluster);
    }
    assert.ok(names.has('kestra'));
  });

  test('paths are normalized as the service normalizes them; escaped slashes and underscore headers refused', () => {
    assert.equal(hcm.normalize_path, true);
    assert.equal(hcm.merge_slashes, true);
    assert.equal(hcm.path_with_escaped_slashes_action, 'REJECT_REQUEST');
    assert.equal(hcm.common_http_protocol_options.headers_with_underscores_action, 'REJECT_REQUEST');
    assert.equal(hcm.use_remote_address, true);
  });

  test('listener on 0.0.0.0:10000, admin on loopback only', () => {
    assert.deepEqual(listener.address.socket_address, { address: '0.0.0.0', port_value: 10000 });
    assert.equal(config.admin.address.socket_address.address, '127.0.0.1');
  });
});
