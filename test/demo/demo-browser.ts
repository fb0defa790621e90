/**
 * A browser without a browser, for the demo test: one cookie jar for the
 * host 127.0.0.1 (browsers keep cookies per host, not per port — so the
 * IdP's cookies and kestra-authz's share it, as they would in Chromium),
 * redirects followed by hand, the demo IdP's sign-in form filled in.
 *
 * node:http rather than fetch: fetch always sends `Sec-Fetch-Mode: cors`,
 * and a navigation must say `navigate`, as a browser's does.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { cookieHeader, mergeSetCookie, type CookieJar } from '../helpers/cookie-jar.js';

export interface Answer {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

const MAX_STEPS = 20;

export class DemoBrowser {
  readonly jar: CookieJar = new Map();

  /** One request, no redirect followed; cookies sent and remembered. */
  async request(url: string, init: { method?: string; headers?: Record<string, string>; form?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    const cookie = cookieHeader(this.jar);
    if (cookie) headers.cookie = cookie;
    let body = '';
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const method = init.method ?? (init.form ? 'POST' : 'GET');
    const answer = await new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
      const req = httpRequest(url, { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2) out.append(raw[i]!, raw[i + 1]!);
          resolve({ status: res.statusCode ?? 0, headers: out, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
      req.on('error', reject);
      req.end(body);
    });
    mergeSetCookie(this.jar, answer.headers.getSetCookie());
    return { url, ...answer };
  }

  /** A browser opening `url` (a top-level navigation). */
  open(url: string): Promise<Answer> {
    return this.request(url, { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } });
  }

  /**
   * Navigates to `url` and follows redirects; on the IdP's sign-in form
   * submits `login`/`password`. Stops at the first answer that is not a
   * redirect, or — with `stopAt` — before requesting a URL it accepts.
   */
  async navigate(url: string, signIn?: { login: string; password: string }, stopAt?: (url: URL) => boolean): Promise<Answer & { stoppedBefore?: string }> {
    let next = url;
    let form: Record<string, string> | undefined;
    let signedIn = false;
    for (let step = 0; step < MAX_STEPS; step++) {
      const answer = form ? await this.request(next, { form, headers: { 'sec-fetch-mode': 'navigate' } }) : await this.open(next);
      form = undefined;
      const location = answer.headers.get('location');
      if (answer.status >= 300 && answer.status < 400 && location) {
        const target = new URL(location, next);
        if (stopAt?.(target)) return { ...answer, stoppedBefore: target.toString() };
        next = target.toString();
        continue;
      }
      const action = /<form method="post" action="([^"]*\/login)"/.exec(answer.text)?.[1];
      if (signIn && action && !signedIn && new URL(next).pathname.startsWith('/interaction/')) {
        signedIn = true;
        form = { login: signIn.login, password: signIn.password };
        next = new URL(action.replace(/&amp;/g, '&'), next).toString();
        continue;
      }
      return answer;
    }
    assert.fail(`too many redirects from ${url}`);
  }
}
