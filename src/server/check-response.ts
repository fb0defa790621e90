/**
 * gRPC door, outbound: Decision → Envoy CheckResponse (snake_case keys, as
 * proto-loader serializes with keepCase). The precedence is simple because
 * the Decision already says everything: allow → ok_response; otherwise
 * denied_response with the Decision's status, headers and body.
 *
 * This object form is the readable statement of the mapping (and what tests
 * compare against); the door sends the same fields encoded in one pass by
 * check-response-wire.ts.
 */
import type { Decision, HeaderPair } from '../core/decision.js';

/** google.rpc.Code values Envoy reads from CheckResponse.status. */
export const RPC_OK = 0;
const RPC_INVALID_ARGUMENT = 3;
const RPC_PERMISSION_DENIED = 7;
const RPC_INTERNAL = 13;
const RPC_UNAVAILABLE = 14;
const RPC_UNAUTHENTICATED = 16;

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction */
export const APPEND_IF_EXISTS_OR_ADD = 0;
export const OVERWRITE_IF_EXISTS_OR_ADD = 2;

export function rpcCodeFor(status: number): number {
  if (status === 401 || status === 302) return RPC_UNAUTHENTICATED;
  if (status === 403) return RPC_PERMISSION_DENIED;
  if (status === 400) return RPC_INVALID_ARGUMENT;
  if (status === 503) return RPC_UNAVAILABLE;
  return RPC_INTERNAL;
}

function headerOptions(pairs: readonly HeaderPair[], appendAction: number) {
  return pairs.map(([key, value]) => ({ header: { key, value }, append_action: appendAction }));
}

function metadataStruct(metadata: Readonly<Record<string, string>>) {
  // google.protobuf.Struct comes from protobufjs's bundled well-known types, which
  // use camelCase field names whatever keepCase says: `string_value` would be dropped.
  const fields: Record<string, { stringValue: string }> = {};
  for (const key of Object.keys(metadata).sort()) fields[key] = { stringValue: metadata[key]! };
  return { fields };
}

export function checkResponseFor(decision: Decision): Record<string, unknown> {
  if (decision.allow) {
    return {
      status: { code: RPC_OK },
      ok_response: {
        // Overwrite, never append: a client-sent x-kestra-user must not survive next to ours.
        headers: headerOptions(decision.upstreamHeaders, OVERWRITE_IF_EXISTS_OR_ADD),
        headers_to_remove: decision.upstreamHeadersToRemove,
        response_headers_to_add: headerOptions(decision.responseHeaders, APPEND_IF_EXISTS_OR_ADD),
      },
      dynamic_metadata: metadataStruct(decision.metadata),
    };
  }
  return {
    status: { code: rpcCodeFor(decision.status), message: decision.reason },
    denied_response: {
      status: { code: decision.status },
      // Every value is added, so several Set-Cookie lines all reach the client.
      headers: headerOptions(decision.responseHeaders, APPEND_IF_EXISTS_OR_ADD),
      body: decision.body,
    },
    dynamic_metadata: metadataStruct(decision.metadata),
  };
}
