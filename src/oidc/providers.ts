/**
 * The configured OIDC providers (`micronaut.security.oauth2.clients.<name>`)
 * and their discovered metadata.
 *
 * Discovery is lazy and cached: an IdP that is down when the service starts
 * does not hold anything back — logins at that provider fail with
 * `IdpUnavailableError` (a 503 answer) while the rest keeps working, and the
 * next login after a back-off retries. One discovery runs at a time per
 * provider. The cache is keyed by the provider's settings, so a config reload
 * that leaves a provider unchanged keeps its discovered metadata and JWKS.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import * as oidc from 'openid-client';
import type { Config, OidcProviderConfig } from '../config/types.js';
import { chooseAuthMethod, clientAuthFor } from './client-auth.js';
import { ClientKeyError } from './client-key.js';
import { IdpUnavailableError } from './oidc-errors.js';

export interface OidcProvider {
  readonly name: string;
  readonly settings: OidcProviderConfig;
  /** The discovered client configuration; rejects with IdpUnavailableError. */
  client(): Promise<oidc.Configuration>;
}

export interface OidcProviders {
  /** Provider names in config order. */
  readonly names: readonly string[];
  get(name: string): OidcProvider | undefined;
  /** Starts discovery of every provider without waiting (service start). */
  warmUp(): void;
}

export interface OidcProviderCache {
  /** The providers of one config snapshot; unchanged providers are shared with earlier snapshots. */
  providersFor(config: Config): OidcProviders;
}

export interface OidcProviderCacheOptions {
  readonly logger?: Logger;
  /** Timeout of each request to an IdP, seconds (default 5). */
  readonly timeoutSeconds?: number;
  /** Clock, ms (default Date.now). */
  readonly now?: () => number;
  /** First retry delay after a failed discovery, ms (default 1000; doubles up to 30 s). */
  readonly retryDelayMs?: number;
}

const MAX_RETRY_DELAY_MS = 30_000;

/** Discovery of one issuer for one client, shared by every config snapshot with the same settings. */
class Discovery {
  readonly #settings: OidcProviderConfig;
  readonly #insecure: boolean;
  readonly #options: OidcProviderCacheOptions;
  #client: oidc.Configuration | undefined;
  #inFlight: Promise<oidc.Configuration> | undefined;
  #failures = 0;
  #retryAt = 0;

  constructor(settings: OidcProviderConfig, insecure: boolean, options: OidcProviderCacheOptions) {
    this.#settings = settings;
    this.#insecure = insecure;
    this.#options = options;
  }

  client(): Promise<oidc.Configuration> {
    if (this.#client) return Promise.resolve(this.#client);
    if (this.#inFlight) return this.#inFlight;
    const now = (this.#options.now ?? Date.now)();
    if (now < this.#retryAt) {
      return Promise.reject(new IdpUnavailableError(this.#settings.name, 'discovery failed recently; retrying shortly'));
    }
    this.#inFlight = this.#discover().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #discover(): Promise<oidc.Configuration> {
    const settings = this.#settings;
    const insecure = this.#insecure && settings.issuer.startsWith('http:');
    const timeout = this.#options.timeoutSeconds ?? 5;
    try {
      const discovered = await oidc.discovery(new URL(settings.issuer), settings.clientId, undefined, oidc.None(), {
        execute: insecure ? [oidc.allowInsecureRequests] : [],
        timeout,
      });
      // The token-endpoint authentication depends on what the IdP advertises (client-auth.ts).
      const metadata = discovered.serverMetadata();
      const method = chooseAuthMethod(settings, metadata.token_endpoint_auth_methods_supported);
      const client = new oidc.Configuration(metadata, settings.clientId, undefined, await clientAuthFor(settings, method));
      client.timeout = timeout;
      if (insecure) oidc.allowInsecureRequests(client);
      this.#options.logger?.info({ provider: settings.name, authMethod: method }, 'OIDC provider discovered');
      this.#client = client;
      this.#failures = 0;
      return client;
    } catch (err) {
      this.#failures++;
      const base = this.#options.retryDelayMs ?? 1000;
      const delay = Math.min(MAX_RETRY_DELAY_MS, base * 2 ** Math.min(this.#failures - 1, 10));
      this.#retryAt = (this.#options.now ?? Date.now)() + delay;
      const code = (err as { code?: unknown }).code;
      this.#options.logger?.warn(
        {
          provider: settings.name, issuer: settings.issuer, error: typeof code === 'string' ? code : (err as Error).name,
          ...(err instanceof ClientKeyError ? { problem: err.message } : {}),
        },
        'OIDC discovery failed; logins at this provider answer 503 until it succeeds',
      );
      throw new IdpUnavailableError(settings.name, 'discovery failed', err);
    }
  }
}

function settingsKey(settings: OidcProviderConfig, insecure: boolean): string {
  const secret = settings.clientSecret ? createHash('sha256').update(settings.clientSecret).digest('base64url') : '';
  // A key file rewritten in place (rotation) and a reload: rediscover, so the new key is read.
  let key = '';
  if (settings.privateKeyFile !== undefined) {
    try {
      key = createHash('sha256').update(readFileSync(settings.privateKeyFile)).digest('base64url');
    } catch {
      key = 'unreadable';
    }
  }
  return JSON.stringify([settings.name, settings.issuer, settings.clientId, secret, insecure, settings.authMethod ?? '', settings.privateKeyFile ?? '', settings.privateKeyId ?? '', key]);
}

export function createOidcProviderCache(options: OidcProviderCacheOptions = {}): OidcProviderCache {
  let known = new Map<string, Discovery>();
  let warnedInsecure = false;
  return {
    providersFor(config: Config): OidcProviders {
      const insecure = config.oidc.allowInsecureHttpIssuers;
      const next = new Map<string, Discovery>();
      const byName = new Map<string, OidcProvider>();
      for (const settings of config.oidc.providers) {
        const key = settingsKey(settings, insecure);
        const discovery = known.get(key) ?? new Discovery(settings, insecure, options);
        next.set(key, discovery);
        // Per snapshot: the current settings (scopes, prompt, end-session) with the shared discovery.
        byName.set(settings.name, Object.freeze({ name: settings.name, settings, client: () => discovery.client() }));
        if (insecure && settings.issuer.startsWith('http:') && !warnedInsecure) {
          warnedInsecure = true;
          options.logger?.warn({ provider: settings.name }, 'INSECURE: an http:// OIDC issuer is in use (authz.oidc.allow-insecure-http-issuers); never in production');
        }
      }
      // Providers no longer configured are forgotten (their discovery results with them).
      known = next;
      const names = Object.freeze(config.oidc.providers.map((p) => p.name));
      return Object.freeze({
        names,
        get: (name: string) => byName.get(name),
        warmUp() {
          for (const provider of byName.values()) provider.client().catch(() => undefined);
        },
      });
    },
  };
}
