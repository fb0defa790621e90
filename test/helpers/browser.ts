/**
 * Headless Chromium for end-to-end tests, driven by playwright-core against
 * the Debian `chromium` binary (never a downloaded browser).
 *
 * Where the binary is missing a test file should skip with a clear message
 * on a developer machine, but fail in CI (CI=true): a browser test that
 * silently does not run is a test that does not exist.
 */
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { isExecutable, missingToolSkipReason } from './executables.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags that make Chromium start reliably in a container without a GPU or network chatter. */
export const CHROMIUM_ARGS: readonly string[] = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

export class BrowserUnavailableError extends Error {
  readonly code = 'ERR_BROWSER_UNAVAILABLE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'BrowserUnavailableError';
  }
}

/**
 * Why the browser tests cannot run here, or undefined when they can.
 * Throws in CI so a missing browser fails the build instead of hiding.
 */
export function browserSkipReason(): Promise<string | undefined> {
  return missingToolSkipReason(CHROMIUM_PATH, 'chromium', 'browser test', (message) => new BrowserUnavailableError(message));
}

export interface TestBrowser {
  readonly browser: Browser;
  /** A fresh profile: its own cookies, accepting the tests' throw-away TLS certificate. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!(await isExecutable(CHROMIUM_PATH))) throw new BrowserUnavailableError(`${CHROMIUM_PATH} not found`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 30_000,
  });
  return {
    browser,
    // The IdPs in tests are HTTPS with a self-signed certificate.
    newContext: () => browser.newContext({ ignoreHTTPSErrors: true }),
    close: () => browser.close(),
  };
}
