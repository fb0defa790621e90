/**
 * Stands in for Kestra: it trusts whatever identity headers arrive (as an
 * upstream behind the proxy does) and shows them. `GET /` is a page naming
 * the signed-in user with a read link, a write form and a sign-out button;
 * every other request is answered with a JSON echo of what arrived, so an
 * allowed API call visibly reached "Kestra" and a denied one never did.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { escapeHtml, page } from './html.js';
import { listenOnPreferredPort } from './ports.js';

/** The demo's read and write requests (Kestra API routes from the built-in rule set). */
export const READ_PATH = '/api/v1/main/flows/demo/hello';
/** `POST /api/v1/{tenant}/flows/{namespace}` — update the flows of a namespace: FLOW:UPDATE. */
export const WRITE_PATH = '/api/v1/main/flows/demo';

const IDENTITY_HEADERS = ['x-kestra-user', 'x-kestra-email', 'x-kestra-groups', 'x-kestra-tenant'] as const;

export interface UpstreamEcho {
  readonly upstream: 'demo-kestra-stand-in';
  readonly method: string;
  readonly url: string;
  /** The identity headers as they arrived ('' when sent empty, absent when not sent). */
  readonly identity: Readonly<Record<string, string>>;
}

export interface DemoUpstream {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

function identityOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of IDENTITY_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function homePage(identity: Record<string, string>): string {
  const user = identity['x-kestra-user'] || '(nobody)';
  const rows = IDENTITY_HEADERS.map((h) => `<tr><th><code>${h}</code></th><td>${escapeHtml(identity[h] ?? '')}</td></tr>`).join('\n');
  return page('kestra-authz demo', `<h1>Hello, ${escapeHtml(user)}</h1>
<p>This page is served by the demo's stand-in for Kestra. It saw the request only because kestra-authz
allowed it, with these identity headers (set by kestra-authz; anything a client sent was removed):</p>
<table>${rows}</table>
<h2>Try it</h2>
<p><a href="${READ_PATH}">Read a flow</a> — <code>GET ${READ_PATH}</code> needs <code>FLOW:READ</code> in namespace <code>demo</code>.</p>
<form method="post" action="${WRITE_PATH}">
  <button type="submit">Update flows</button> — <code>POST ${WRITE_PATH}</code> needs <code>FLOW:UPDATE</code>: alice gets the echo, bob a 403.
</form>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`);
}

export async function startDemoUpstream(preferredPort: number): Promise<DemoUpstream> {
  const server: Server = createServer((req, res) => {
    // Bodies are not used; drain them so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => {
      const identity = identityOf(req);
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(homePage(identity));
        return;
      }
      if (path === '/favicon.ico') {
        res.writeHead(404).end();
        return;
      }
      const echo: UpstreamEcho = { upstream: 'demo-kestra-stand-in', method: req.method ?? '', url: req.url ?? '', identity };
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(echo, null, 2)}\n`);
    });
  });
  const port = await listenOnPreferredPort(server, preferredPort);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
