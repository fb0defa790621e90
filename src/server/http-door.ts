/**
 * The HTTP door (config.listen.http, default 8080): Envoy HTTP ext_authz,
 * forward-auth for Caddy / Traefik / nginx, and our own endpoints (/oauth/…,
 * /login, /logout, /.well-known/…) — one decision core behind all three.
 * Translation only: http-request.ts says what is asked, decideAtDoor()
 * decides (and times, counts, logs), http-response.ts writes the answer.
 *
 * Trust: in forward-auth mode the original request is described by
 * X-Forwarded-* / X-Original-* headers, which only a proxy may set; which of
 * them are read is `authz.http.forward-auth.trust` (forwarded-headers.ts). This port
 * must be reachable from the proxy only (bind it to loopback or a private
 * network, or firewall it); a client that can reach it directly could
 * describe any request it likes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_BODY_BYTES } from '../core/auth-request.js';
import { compileHeaderPolicy } from '../core/header-policy.js';
import type { Config } from '../config/types.js';
import { httpConnectionsTotal } from '../observability/metrics.js';
import { BodyReadError, readBoundedBody } from './http-body.js';
import { forwardedPolicy, type ForwardedPolicy } from './forwarded-headers.js';
import { authRequestFor, isOwnEndpoint, questionFrom } from './http-request.js';
import { writeDecision, writeDoorError } from './http-response.js';
import { countDoorRefusal, decideAtDoor, errorSummary, publishedKeys, type Runtime } from './runtime.js';
import { isJwksRequest, writeJwks } from '../identity/jwks-endpoint.js';

export const DEFAULT_EXT_AUTHZ_PREFIX = '/ext_authz';

export interface HttpDoor {
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpDoorOptions {
  /** Overrides `authz.http.ext-authz-prefix` (default `/ext_authz`). */
  readonly extAuthzPrefix?: string;
}

export class HttpDoorOptionError extends TypeError {
  readonly code = 'ERR_HTTP_DOOR_OPTION' as const;
  constructor(message: string) {
    super(message);
    this.name = 'HttpDoorOptionError';
  }
}

/** A prefix is an absolute path without a trailing slash, query or fragment: `/ext_authz`, `/authz/envoy`. */
export function checkExtAuthzPrefix(prefix: string): string {
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*[^/]$/.test(prefix) || prefix.includes('//')) {
    throw new HttpDoorOptionError('authz.http.ext-authz-prefix must be an absolute path like /ext_authz (no trailing slash, query or fragment)');
  }
  return prefix;
}

interface DoorSettings {
  readonly extAuthzPrefix: string;
  readonly forwarded: ForwardedPolicy;
  readonly identityHeaders: readonly string[];
  /** `authz.http.keep-alive-timeout`. */
  readonly keepAliveTimeoutMs: number;
}

const HAS_BODY_METHODS = new Set(['POST', 'PUT']);

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export async function startHttpDoor(runtime: Runtime, host: string, port: number, options: HttpDoorOptions = {}): Promise<HttpDoor> {
  const fixedPrefix = options.extAuthzPrefix === undefined ? undefined : checkExtAuthzPrefix(options.extAuthzPrefix);
  // Settings follow the engine's config snapshot (hot reload), compiled once per snapshot.
  const settingsByConfig = new WeakMap<Config, DoorSettings>();
  const settingsFor = (config: Config): DoorSettings => {
    let settings = settingsByConfig.get(config);
    if (!settings) {
      settings = {
        extAuthzPrefix: fixedPrefix ?? checkExtAuthzPrefix(config.http.extAuthzPrefix),
        forwarded: forwardedPolicy(config.http.forwardAuthTrust, config.http.clientCertHeader),
        identityHeaders: compileHeaderPolicy(config).identityHeaders,
        keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
      };
      settingsByConfig.set(config, settings);
    }
    return settings;
  };
  const initial = settingsFor(runtime.engine.config); // a bad prefix fails at start, not on the first request

  const handle = async (req: IncomingMessage, res: ServerResponse, ctx: { requestId: string }): Promise<void> => {
    if (isJwksRequest(req)) {
      // Served, not decided: the public keys of the identity token, for whoever verifies it.
      writeJwks(req, res, publishedKeys(runtime));
      return;
    }
    const settings = settingsFor(runtime.engine.config);
    // A reloaded keep-alive timeout applies from the next idle period of each connection.
    if (server.keepAliveTimeout !== settings.keepAliveTimeoutMs) server.keepAliveTimeout = settings.keepAliveTimeoutMs;
    const question = questionFrom(req, settings.extAuthzPrefix, settings.forwarded);
    if ('refused' in question) {
      countDoorRefusal('http', 'bad_request');
      writeDoorError(res, 'bad_request', question.refused, '');
      return;
    }
    ctx.requestId = question.requestId;
    let authRequest = authRequestFor(question, '');
    if (!authRequest) {
      countDoorRefusal('http', 'bad_request');
      writeDoorError(res, 'bad_request', 'the request path is not absolute, is ambiguous (an encoded slash or backslash, a backslash, a ;parameter) or carries a control character', question.requestId);
      return;
    }
    const own = isOwnEndpoint(authRequest.path);
    if (question.mode === 'direct' && !own) {
      // Not a general-purpose proxy: decide nothing, count nothing.
      writeDoorError(res, 'not_found', 'no such endpoint on the authorization service', question.requestId);
      return;
    }
    let bodyRead = false;
    if (own && HAS_BODY_METHODS.has(authRequest.method) && hasBody(req)) {
      const body = await readBoundedBody(req, MAX_BODY_BYTES);
      bodyRead = true;
      authRequest = authRequestFor(question, body) ?? authRequest;
    }
    const decision = await decideAtDoor(runtime, authRequest, 'http');
    if (question.mode === 'direct' && decision.allow) {
      // Allowed but not answered by the login flow: there is nothing here to serve.
      writeDoorError(res, 'not_found', 'no such endpoint on the authorization service', question.requestId);
      return;
    }
    // A body we did not read (e.g. Envoy's with_request_body) is discarded; don't keep the connection for it.
    if (!bodyRead && hasBody(req)) res.shouldKeepAlive = false;
    writeDecision(res, decision, question, settings.identityHeaders);
  };

  const server: Server = createServer({
    requestTimeout: 30_000,
    headersTimeout: 15_000,
    // `authz.http.keep-alive-timeout` (75 s): longer than the recipes' 60 s proxy idle timeouts, so the proxy closes first.
    keepAliveTimeout: initial.keepAliveTimeoutMs,
  }, (req, res) => {
    const ctx = { requestId: '' };
    handle(req, res, ctx).catch((err: unknown) => {
      if (err instanceof BodyReadError) {
        writeDoorError(res, err.code === 'ERR_BODY_TOO_LARGE' ? 'payload_too_large' : 'bad_request', err.message, ctx.requestId, { closeConnection: true });
        return;
      }
      // Never an allow: a thrown error is a 500 JSON answer.
      runtime.logger.error({ requestId: ctx.requestId, err: errorSummary(err) }, 'HTTP door handler failed');
      writeDoorError(res, 'internal_error', 'internal error; request refused', ctx.requestId);
    });
  });
  server.on('connection', () => httpConnectionsTotal.inc());
  // Malformed HTTP from a client: a bare 400 (431 for oversized headers) echoing nothing, then close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Don't wait forever on a client that keeps a request open.
      setTimeout(() => { server.closeAllConnections(); resolve(); }, 2000).unref();
    }),
  };
}
