/**
 * Envoy's own API protos, loaded from the copy `@grpc/grpc-js-xds` ships
 * (deps/envoy-api, deps/xds, deps/googleapis, deps/protoc-gen-validate), so
 * our wire types are Envoy's — nothing upstream is copied into this repo.
 * The list of include dirs is data we own: proto/include-dirs.json.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** Absolute include dirs for Envoy's protos, in the order protoc would take them. */
export function envoyProtoIncludeDirs(): string[] {
  const xdsRoot = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const listFile = new URL('../../../proto/include-dirs.json', import.meta.url);
  const relative = JSON.parse(readFileSync(listFile, 'utf8')) as string[];
  return relative.map((dir) => join(xdsRoot, dir));
}

/**
 * snake_case field names as in the .proto files (what Envoy docs show),
 * 64-bit integers as strings, enums as numbers, oneofs surfaced, no default
 * filling (cheaper decode; absent fields stay undefined).
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: false,
  oneofs: true,
});

export const EXT_AUTHZ_PROTO = 'envoy/service/auth/v3/external_auth.proto';
export const BOOTSTRAP_PROTO = 'envoy/config/bootstrap/v3/bootstrap.proto';
export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

let extAuthzDefinition: protoLoader.PackageDefinition | undefined;

/** The ext_authz package definition (loaded once; ~25 files). */
export function loadExtAuthzDefinition(): protoLoader.PackageDefinition {
  extAuthzDefinition ??= protoLoader.loadSync(EXT_AUTHZ_PROTO, {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: envoyProtoIncludeDirs(),
  });
  return extAuthzDefinition;
}
