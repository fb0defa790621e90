/**
 * Our gRPC door's (de)serializers — @grpc/proto-loader over
 * loadExtAuthzDefinition() — against Envoy's full protos read by protobufjs
 * on their own, plus a hand-encoded oracle built from Envoy's documented
 * field numbers, so a wrong number or type on either side shows up as bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type protobuf from 'protobufjs';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../../src/server/envoy-protos.js';
import { EnvoyProtoSchema } from '../../src/server/envoy-config-check.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';

interface MethodCodec {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): Record<string, any>;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): Record<string, any>;
}

const check = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as unknown as { Check: MethodCodec }).Check;
const schema = new EnvoyProtoSchema();
const CheckRequest = schema.messageType('envoy.service.auth.v3.CheckRequest')!;
const CheckResponse = schema.messageType('envoy.service.auth.v3.CheckResponse')!;
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false, oneofs: true };

/** protobufjs, from the full .proto files: JS object → bytes. */
function encodeFull(type: protobuf.Type, value: object): Buffer {
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

/** Every key of `expected` is in `actual` with the same value (extra oneof discriminators allowed). */
function assertSurvives(actual: unknown, expected: unknown, path = '$'): void {
  if (Buffer.isBuffer(expected) || expected instanceof Uint8Array) {
    assert.ok(actual instanceof Uint8Array, `${path} is bytes`);
    assert.deepEqual(Buffer.from(actual), Buffer.from(expected), path);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is a list`);
    assert.equal(actual.length, expected.length, `${path}.length`);
    expected.forEach((item, i) => assertSurvives(actual[i], item, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path} is a message`);
    for (const [key, value] of Object.entries(expected)) {
      if (isEmptyMessage(value)) continue; // an empty submessage may decode as absent or {}
      assertSurvives((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
  } else {
    assert.equal(actual, expected, path);
  }
}

function isEmptyMessage(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array) && Object.keys(value).length === 0;
}

// --- a minimal protobuf writer for the oracle: tag = field << 3 | wire type ---
function varint(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Buffer.from(out);
}
const vField = (field: number, n: number) => Buffer.concat([varint((field << 3) | 0), varint(n)]);
const lField = (field: number, ...parts: (Buffer | string)[]) => {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
};

function richCheckRequest() {
  const request = envoyCheckRequest({
    method: 'POST',
    path: '/api/v1/main/executions/company.team/hello?wait=true',
    host: 'kestra.example.com',
    scheme: 'https',
    protocol: 'HTTP/2',
    sourceAddress: '198.51.100.23:41234',
    destinationAddress: '10.1.2.3:10000',
    sourcePrincipal: 'spiffe://cluster.local/ns/ci/sa/runner',
    headers: {
      authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
      cookie: ['JWT=abc', 'theme=dark'],
      accept: 'application/json',
      'x-forwarded-for': '192.0.2.1',
      'x-unicode': 'grüße ✓',
    },
    contextExtensions: { route: 'kestra-api', tier: 'gold' },
    sni: 'kestra.example.com',
    id: '13359530607844510314',
    time: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678)),
  });
  return {
    attributes: {
      ...request.attributes,
      source: { ...request.attributes.source, certificate: '-----BEGIN%20CERTIFICATE-----', service: 'edge', labels: { zone: 'a' } },
      destination: { ...request.attributes.destination, labels: { app: 'kestra', version: 'v1' } },
      request: {
        ...request.attributes.request,
        http: {
          ...request.attributes.request.http,
          size: '9007199254740993', // above 2^53: int64 must travel as a string, not a lossy number
          header_map: { headers: [{ key: 'x-raw', raw_value: Buffer.from([0xff, 0x00, 0x7f]) }] },
          raw_body: Buffer.from('{"inputs":{}}'),
        },
      },
      metadata_context: {
        filter_metadata: {
          'envoy.filters.http.jwt_authn': {
            fields: {
              sub: { stringValue: 'alice' },
              admin: { boolValue: true },
              n: { numberValue: 1.5 },
              groups: { listValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } },
              nested: { structValue: { fields: { x: { nullValue: 0 } } } },
            },
          },
        },
      },
      route_metadata_context: { filter_metadata: { kestra: { fields: { rule: { stringValue: 'api' } } } } },
    },
  };
}

describe('CheckRequest: Envoy → our deserializer', () => {
  test('every field of a rich request survives protobufjs(full protos) → requestDeserialize', () => {
    const request = richCheckRequest();
    const bytes = encodeFull(CheckRequest, request);
    const decoded = check.requestDeserialize(bytes);
    assertSurvives(decoded, request);
    assert.equal(decoded.attributes.request.http.headers.cookie, 'JWT=abc; theme=dark');
    assert.equal(decoded.attributes.request.http.headers['x-unicode'], 'grüße ✓');
    assert.equal(decoded.attributes.request.http.size, '9007199254740993');
    // …and re-encoding what we decoded gives Envoy's bytes back.
    assert.deepEqual(check.requestSerialize(decoded), bytes);
  });

  test('the helper request is exactly representable: nothing unknown, nothing lost', () => {
    const request = envoyCheckRequest({ path: '/ui/?a=1', headers: { Host: 'ignored', 'X-Mixed': 'v' } });
    assertSurvives(check.requestDeserialize(encodeFull(CheckRequest, request)), request);
    assert.equal(request.attributes.request.http.headers!['x-mixed'], 'v');
    assert.equal(request.attributes.request.http.headers!.host, undefined);
  });

  test('hand-encoded bytes (Envoy field numbers) decode to the right fields', () => {
    const bytes = lField(1 /* attributes */,
      lField(1 /* source */, lField(1 /* address */, lField(1 /* socket_address */, lField(2, '203.0.113.9'), vField(3, 5555)))),
      lField(4 /* request */, lField(2 /* http */,
        lField(1, '77'), lField(2, 'GET'),
        lField(3 /* headers map entry */, lField(1, ':path'), lField(2, '/x?y=1')),
        lField(3, lField(1, 'cookie'), lField(2, 'JWT=t')),
        lField(4, '/x?y=1'), lField(5, 'kestra.example.com'), lField(6, 'https'), lField(10, 'HTTP/1.1'))),
      lField(10 /* context_extensions */, lField(1, 'k'), lField(2, 'v')),
      lField(12 /* tls_session */, lField(1, 'sni.example.com')));
    const decoded = check.requestDeserialize(bytes);
    assertSurvives(decoded, {
      attributes: {
        source: { address: { socket_address: { address: '203.0.113.9', port_value: 5555 } } },
        request: { http: { id: '77', method: 'GET', headers: { ':path': '/x?y=1', cookie: 'JWT=t' }, path: '/x?y=1', host: 'kestra.example.com', scheme: 'https', protocol: 'HTTP/1.1' } },
        context_extensions: { k: 'v' },
        tls_session: { sni: 'sni.example.com' },
      },
    });
  });
});

// google.protobuf.Struct/Value come from protobufjs's bundled struct.proto, whose
// field names are camelCase whatever keepCase says: `stringValue`, not `string_value`.
const OK_RESPONSE = {
  status: { code: 0 },
  ok_response: {
    headers: [
      { header: { key: 'x-kestra-user', value: 'alice@example.com' }, append_action: 2 },
      { header: { key: 'x-kestra-groups', value: 'admin,developer' }, append_action: 2 },
      { header: { key: 'x-legacy', value: '1' }, append: { value: false } },
    ],
    headers_to_remove: ['x-kestra-email', 'x-kestra-tenant'],
    response_headers_to_add: [{ header: { key: 'set-cookie', value: 'JWT=new; Path=/; HttpOnly; Secure' }, append_action: 0 }],
  },
  dynamic_metadata: {
    fields: {
      user: { stringValue: 'alice@example.com' },
      groups: { stringValue: 'admin,developer' },
      rule: { stringValue: 'kestra:flows.read' },
    },
  },
};

const DENIED_RESPONSE = {
  status: { code: 16, message: 'login_required' },
  denied_response: {
    status: { code: 302 },
    headers: [
      { header: { key: 'location', value: 'https://sso.example.com/realms/kestra/protocol/openid-connect/auth?client_id=kestra' } },
      { header: { key: 'set-cookie', value: 'OAUTH2_STATE=s1; Path=/oauth; HttpOnly; Secure; Max-Age=300' } },
      { header: { key: 'set-cookie', value: 'OAUTH2_PKCE=p1; Path=/oauth; HttpOnly; Secure; Max-Age=300' } },
      { header: { key: 'cache-control', value: 'no-store' } },
    ],
    body: '{"error":"login_required","message":"redirecting to login","requestId":"r-1"}',
  },
  dynamic_metadata: { fields: { reason: { stringValue: 'login_required' } } },
};

describe('CheckResponse: our serializer → Envoy', () => {
  for (const [name, response] of [['ok_response', OK_RESPONSE], ['denied_response 302', DENIED_RESPONSE]] as const) {
    test(`${name}: responseSerialize is byte-for-byte protobufjs(full protos), and decodes back whole`, () => {
      const ours = check.responseSerialize(response);
      assert.deepEqual(ours, encodeFull(CheckResponse, response));
      const decoded = CheckResponse.toObject(CheckResponse.decode(ours), TO_OBJECT);
      assertSurvives(decoded, response);
    });
  }

  test('two Set-Cookie headers stay two, in order', () => {
    const decoded = CheckResponse.toObject(CheckResponse.decode(check.responseSerialize(DENIED_RESPONSE)), TO_OBJECT);
    const cookies = decoded.denied_response.headers.filter((h: any) => h.header.key === 'set-cookie').map((h: any) => h.header.value);
    assert.deepEqual(cookies, [DENIED_RESPONSE.denied_response.headers[1]!.header.value, DENIED_RESPONSE.denied_response.headers[2]!.header.value]);
    assert.equal(decoded.denied_response.status.code, 302);
    assert.equal(decoded.http_response, 'denied_response');
  });

  test('hand-encoded oracle: status, denied_response, append_action land on Envoy field numbers', () => {
    const response = {
      status: { code: 7 },
      denied_response: { status: { code: 403 }, headers: [{ header: { key: 'a', value: 'b' }, append_action: 1 }], body: 'no' },
      dynamic_metadata: { fields: { r: { stringValue: 'x' } } },
    };
    const expected = Buffer.concat([
      lField(1 /* status */, vField(1 /* code */, 7)),
      lField(2 /* denied_response */,
        lField(1 /* HttpStatus */, vField(1, 403)),
        lField(2 /* headers */, lField(1 /* header */, lField(1, 'a'), lField(2, 'b')), vField(3 /* append_action */, 1)),
        lField(3 /* body */, 'no')),
      lField(4 /* dynamic_metadata */, lField(1 /* fields entry */, lField(1, 'r'), lField(2, lField(3 /* string_value */, 'x')))),
    ]);
    assert.deepEqual(check.responseSerialize(response), expected);
    const ok = { status: { code: 0 }, ok_response: { headers_to_remove: ['x-a'], response_headers_to_add: [{ header: { key: 'k', value: 'v' } }] } };
    // protobufjs writes an explicitly given 0 (valid proto3 wire; Envoy reads it as OK); ok_response is field 3.
    assert.deepEqual(check.responseSerialize(ok), Buffer.concat([
      lField(1, vField(1, 0)),
      lField(3, lField(5 /* headers_to_remove */, 'x-a'), lField(6 /* response_headers_to_add */, lField(1, lField(1, 'k'), lField(2, 'v')))),
    ]));
  });

  test('Struct values must be written camelCase: a snake_case string_value is silently dropped', () => {
    const oracle = lField(4 /* dynamic_metadata */, lField(1, lField(1, 'user'), lField(2, lField(3 /* string_value */, 'alice'))));
    const camel = { dynamic_metadata: { fields: { user: { stringValue: 'alice' } } } };
    const snake = { dynamic_metadata: { fields: { user: { string_value: 'alice' } } } };
    assert.deepEqual(check.responseSerialize(camel), oracle);
    // The value is lost, not rejected: only an empty Value reaches Envoy.
    assert.deepEqual(check.responseSerialize(snake), lField(4, lField(1, lField(1, 'user'), lField(2))));
    assert.deepEqual(check.responseDeserialize(oracle).dynamic_metadata.fields.user.stringValue, 'alice');
  });
});
