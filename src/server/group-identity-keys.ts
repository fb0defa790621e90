/**
 * The identity token's JWKS on the management port of a `serve --workers N`
 * primary (group-primary.ts), which istiod is pointed at
 * (deploy/istio/identity-token.yaml). The primary signs nothing; it holds a
 * key ring of its own (identity/key-ring.ts) filled from the same config
 * and key file as the workers' rings, so it publishes what they publish:
 * with a key file every key has the same kid in every process (the JWK's own
 * or its RFC 7638 thumbprint).
 *
 * Reloaded when the workers are: on SIGHUP (group-primary.ts forwards it and
 * calls `reload`) and when the config file changes (its own watch, as each
 * worker has). A rotated key file then puts the new key first and keeps the
 * replaced one published until its tokens have expired, exactly as in a
 * worker (same ring, same install). A file that does not load, or a key file
 * that cannot be used, leaves the keys published as they were (the workers
 * reject that reload too and keep signing with their keys).
 *
 * Published: while the token is enabled with a `key-file`. Off → 404 (as a
 * worker). On without a key file after a reload (each worker then generates
 * its own key, which the primary cannot know; `serve` refuses to start a
 * group so) → 404 too, with a warning: serve the JWKS from the HTTP door or
 * configure a key file.
 */
import type { Logger } from 'pino';
import { loadConfigFile } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import { AuthzError } from '../core/errors.js';
import { installIdentityKeys } from '../identity/identity-token-setup.js';
import { IdentityKeyRing } from '../identity/key-ring.js';
import { SigningKeyError } from '../identity/signing-keys.js';
import { watchConfigFile, type ConfigWatcher } from './config-watch.js';
import { errorSummary } from './runtime.js';

export interface GroupIdentityKeysOptions {
  /** The config the primary started from (the workers load the same file). */
  readonly config: Config;
  /** Its file, re-read on `reload` and watched; undefined for the embedded default (nothing to reload). */
  readonly path?: string;
  readonly logger: Logger;
  /** Loads the file (default loadConfigFile). */
  readonly load?: (path: string) => Promise<Config>;
  /** The ring's clock (default Date.now): when a replaced key stops being published. */
  readonly now?: () => number;
}

export interface GroupIdentityKeys {
  /** The ring to publish now; undefined = 404 (token off, or its key is generated per worker). */
  published(): IdentityKeyRing | undefined;
  /** Re-reads the config file and installs its keys; never rejects. Calls made during one run once more after it. */
  reload(): Promise<void>;
  close(): void;
}

/**
 * Installs the keys of `options.config`; throws SigningKeyError for a key
 * file that cannot be used (the workers would not start either).
 */
export function startGroupIdentityKeys(options: GroupIdentityKeysOptions): GroupIdentityKeys {
  const { path, logger } = options;
  const load = options.load ?? ((file: string) => loadConfigFile(file));
  const ring = new IdentityKeyRing(options.now);
  let publishing = false;

  const apply = (config: Config): void => {
    const token = config.identityToken;
    if (token.enabled && token.keyFile === undefined) {
      if (publishing) {
        logger.warn({ source: config.source }, 'authz.identity-token has no key-file any more: each worker generates its own key, so the management port stops serving the JWKS (each worker\'s HTTP door serves its own); configure a key file');
      }
      publishing = false;
      return;
    }
    publishing = installIdentityKeys(config, ring);
  };

  const reloadOnce = async (): Promise<void> => {
    try {
      apply(await load(path!));
    } catch (err) {
      // The workers log this reload's problems in full; the primary only says what it keeps.
      const detail = err instanceof SigningKeyError || err instanceof AuthzError ? { code: err.code, error: err.message } : { err: errorSummary(err) };
      logger.warn({ source: path, ...detail }, 'config reload rejected; the management port keeps serving the previous identity-token keys');
    }
  };

  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const reload = (): Promise<void> => {
    if (path === undefined) return Promise.resolve();
    if (queued) return queued;
    if (running) {
      queued = running.then(() => {
        queued = undefined;
        return reload();
      });
      return queued;
    }
    running = reloadOnce().finally(() => { running = undefined; });
    return running;
  };

  apply(options.config);
  const watcher: ConfigWatcher | undefined = path === undefined ? undefined : watchConfigFile(path, () => { void reload(); }, { logger });
  return {
    published: () => (publishing ? ring : undefined),
    reload,
    close: () => watcher?.close(),
  };
}
