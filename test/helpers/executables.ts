/**
 * Whether a system tool a test drives (Chromium, Caddy, nginx) is installed.
 * Where it is missing a test skips with a clear message on a developer
 * machine, but fails in CI (CI=true): a test that silently does not run is a
 * test that does not exist.
 */
import { access, constants } from 'node:fs/promises';

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Undefined when `path` can run; else why the `what` tests skip. In CI the
 * missing tool is an error made by `unavailable`, thrown instead.
 */
export async function missingToolSkipReason(path: string, debianPackage: string, what: string, unavailable: (message: string) => Error): Promise<string | undefined> {
  if (await isExecutable(path)) return undefined;
  const reason = `${path} not found (install Debian's '${debianPackage}' package)`;
  if (process.env.CI === 'true') throw unavailable(`${reason}; CI=true, so this is a failure, not a skip`);
  return `${reason}; skipping the ${what}`;
}
