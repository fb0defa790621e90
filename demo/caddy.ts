/**
 * Caddy in front, with the forward_auth recipe of docs/recipes/caddy.md: strip identity
 * headers a client sent, hand our own endpoints (login, callback, logout)
 * to the HTTP door, ask the door about everything else, copy the identity
 * headers and the cleaned Cookie onto the upstream request.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Where Debian's package puts it; the banner names it when Caddy is missing. */
export const CADDY_PATH = '/usr/bin/caddy';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Caddy binary to run: `$KESTRA_AUTHZ_DEMO_CADDY` when set (and then
 * only that), else the first `caddy` on PATH (Homebrew, /usr/local/bin…),
 * else /usr/bin/caddy; undefined when there is none.
 */
export async function findCaddy(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const chosen = env.KESTRA_AUTHZ_DEMO_CADDY;
  if (chosen) return (await isExecutable(chosen)) ? chosen : undefined;
  const candidates = (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'caddy'));
  for (const path of [...candidates, CADDY_PATH]) if (await isExecutable(path)) return path;
  return undefined;
}

export interface CaddyfileOptions {
  readonly port: number;
  /** The HTTP door, host:port. */
  readonly authz: string;
  /** The upstream, host:port. */
  readonly upstream: string;
  /** Caddy's data dir (inside the demo's temp dir). */
  readonly dataDir: string;
}

export function demoCaddyfile(o: CaddyfileOptions): string {
  return `{
	admin off
	auto_https off
	storage file_system ${o.dataDir}
}

http://:${o.port} {
	bind 127.0.0.1
	route {
		request_header -X-Kestra-User
		request_header -X-Kestra-Email
		request_header -X-Kestra-Groups
		request_header -X-Kestra-Tenant
		request_header -X-Kestra-Identity
		@authz path /login /login/* /oauth/* /logout
		reverse_proxy @authz ${o.authz} {
			transport http {
				keepalive 60s
				keepalive_idle_conns 64
				keepalive_idle_conns_per_host 32
			}
		}
		forward_auth ${o.authz} {
			uri /forward-auth
			copy_headers X-Kestra-User X-Kestra-Email X-Kestra-Groups X-Kestra-Tenant X-Kestra-Identity Cookie
			transport http {
				keepalive 60s
				keepalive_idle_conns 64
				keepalive_idle_conns_per_host 32
			}
		}
		reverse_proxy ${o.upstream} {
			transport http {
				keepalive 60s
				keepalive_idle_conns 64
				keepalive_idle_conns_per_host 32
			}
		}
	}
}
`;
}
