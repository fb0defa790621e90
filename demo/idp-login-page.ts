/** The embedded IdP's sign-in form (HTML only; the checks live in demo-idp.ts). */
import { escapeHtml, page } from './html.js';

export interface LoginPageOptions {
  /** Where the form posts: `/interaction/<uid>/login`. */
  readonly action: string;
  /** Where "cancel" goes: `/interaction/<uid>/abort`. */
  readonly abort: string;
  /** The login name typed last time (kept on a failed attempt; never the password). */
  readonly login?: string;
  readonly error?: string;
  /** The demo users' login names, as a hint. */
  readonly logins: readonly string[];
}

export function renderIdpLoginPage(o: LoginPageOptions): string {
  const error = o.error ? `<p class="error" role="alert">${escapeHtml(o.error)}</p>` : '';
  return page('Demo IdP — sign in', `<h1>Demo IdP</h1>
<p>An OpenID Provider (<code>oidc-provider</code>) embedded in <code>npm run demo</code>.
Demo users: ${o.logins.map((l) => `<code>${escapeHtml(l)}</code>`).join(', ')} — their passwords are in the demo's terminal.</p>
${error}
<form method="post" action="${escapeHtml(o.action)}" autocomplete="off">
  <label>User name <input name="login" value="${escapeHtml(o.login ?? '')}" autofocus required></label>
  <label>Password <input name="password" type="password" required></label>
  <button type="submit">Sign in</button>
</form>
<p><a href="${escapeHtml(o.abort)}">Cancel</a></p>`);
}

export function renderIdpProblemPage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

/** oidc-provider's `logoutSource`: `form` is its own hidden form (id `op.logoutForm`, with the xsrf token). */
export function renderIdpLogoutPage(form: string): string {
  return page('Demo IdP — sign out', `<h1>Demo IdP</h1>
<p>You signed out of the application. Sign out of the demo IdP too?</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in here</button>`);
}
