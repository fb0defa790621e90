/**
 * The sign-in page (`GET /login`): one button per OIDC provider and, when
 * Basic auth is on, a user name / password form. Self-contained (inline CSS
 * allowed by hash in the CSP, no script, no external asset), every dynamic
 * value HTML-escaped, usable with a keyboard and a screen reader.
 * Also the page that explains a failed login.
 */

/** Exported so the CSP can allow exactly this stylesheet by hash. */
export const PAGE_STYLE = [
  ':root{color-scheme:light dark;--fg:#1d1d1f;--bg:#f5f5f7;--card:#fff;--accent:#5a3fd6;--muted:#5f6368;--err:#b3261e}',
  '@media (prefers-color-scheme:dark){:root{--fg:#f1f1f3;--bg:#151518;--card:#222227;--accent:#a996ff;--muted:#b0b0b8;--err:#ffb4ab}}',
  '*{box-sizing:border-box}',
  'body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}',
  'main{width:min(24rem,calc(100vw - 2rem));background:var(--card);border-radius:12px;padding:2rem;box-shadow:0 2px 12px rgba(0,0,0,.12)}',
  'h1{font-size:1.4rem;margin:0 0 1.25rem}',
  'ul{list-style:none;margin:0;padding:0;display:grid;gap:.6rem}',
  'a.provider,button{display:block;width:100%;padding:.7rem 1rem;border-radius:8px;font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}',
  'a.provider{border:1px solid var(--accent);color:var(--accent)}',
  'a.provider:hover,a.provider:focus-visible{background:var(--accent);color:var(--card)}',
  'button{border:0;background:var(--accent);color:var(--card)}',
  ':focus-visible{outline:3px solid var(--accent);outline-offset:2px}',
  '.or{display:flex;align-items:center;gap:.75rem;color:var(--muted);margin:1.25rem 0;font-size:.9rem}',
  '.or::before,.or::after{content:"";flex:1;border-top:1px solid currentColor;opacity:.4}',
  'label{display:block;font-size:.9rem;margin:.75rem 0 .25rem}',
  'input{width:100%;padding:.6rem .7rem;border:1px solid var(--muted);border-radius:8px;font:inherit;background:transparent;color:inherit}',
  'form button{margin-top:1.25rem}',
  '.error{color:var(--err);border:1px solid var(--err);border-radius:8px;padding:.6rem .8rem;margin:0 0 1rem}',
  'p.hint{color:var(--muted);font-size:.85rem;margin:1.25rem 0 0}',
].join('');

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

export interface LoginPageOptions {
  /** Provider names, each shown as a link to `/oauth/login/<name>?redirect=…`. */
  readonly providers: readonly string[];
  readonly basicForm: boolean;
  /** Safe return path (already checked) carried through the login. */
  readonly returnTo: string;
  /** A generic, secret-free message shown above the choices. */
  readonly error?: string;
  /** Pre-filled user name after a failed form login (escaped). */
  readonly username?: string;
  readonly title?: string;
}

function providerLabel(name: string): string {
  return name.length ? name[0]!.toUpperCase() + name.slice(1) : name;
}

export function renderLoginPage(options: LoginPageOptions): string {
  const redirect = encodeURIComponent(options.returnTo);
  const parts: string[] = [];
  if (options.error) parts.push(`<p class="error" role="alert">${escapeHtml(options.error)}</p>`);
  if (options.providers.length) {
    parts.push('<ul aria-label="Sign-in providers">');
    for (const name of options.providers) {
      const href = `/oauth/login/${encodeURIComponent(name)}?redirect=${redirect}`;
      parts.push(`<li><a class="provider" href="${escapeHtml(href)}">Continue with ${escapeHtml(providerLabel(name))}</a></li>`);
    }
    parts.push('</ul>');
  }
  if (options.basicForm) {
    if (options.providers.length) parts.push('<div class="or" aria-hidden="true">or</div>');
    parts.push(
      '<form method="post" action="/login">',
      `<input type="hidden" name="redirect" value="${escapeHtml(options.returnTo)}">`,
      '<label for="username">User name</label>',
      `<input id="username" name="username" autocomplete="username" required value="${escapeHtml(options.username ?? '')}">`,
      '<label for="password">Password</label>',
      '<input id="password" name="password" type="password" autocomplete="current-password" required>',
      '<button type="submit">Sign in</button>',
      '</form>',
    );
  }
  if (!options.providers.length && !options.basicForm) parts.push('<p>No sign-in method is configured.</p>');
  return page(options.title ?? 'Sign in', parts.join('\n'));
}

/** A short page for a login that could not complete, with a way to start again. */
export function renderProblemPage(title: string, message: string, retryHref: string): string {
  return page(title, [
    `<p class="error" role="alert">${escapeHtml(message)}</p>`,
    `<ul><li><a class="provider" href="${escapeHtml(retryHref)}">Try again</a></li></ul>`,
  ].join('\n'));
}

function page(title: string, content: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="same-origin">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${PAGE_STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${escapeHtml(title)}</h1>`,
    content,
    '</main>',
    '</body>',
    '</html>',
  ].join('\n');
}
