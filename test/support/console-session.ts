// A browser's worth of console state for app.request() tests: cookies, the sign-in form, the CSRF token of the pages.
import { ADMIN_TOKEN, type HttpResult } from './broker.ts';
import type { TestApp } from './test-app.ts';

export interface ConsoleClient {
  /** Cookies as the browser would send them (name -> value). */
  readonly cookies: Map<string, string>;
  get(path: string): Promise<HttpResult>;
  /** A form post with these fields (no CSRF token added: pass `csrf` yourself). */
  post(
    path: string,
    fields: Record<string, string>,
    headers?: Record<string, string>,
  ): Promise<HttpResult>;
  /** The CSRF token the signed-in pages carry (read from a page's form). */
  csrf(): Promise<string>;
}

/** A hidden field's value in a page. */
export function hiddenField(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
}

/** A cookie jar over `t.request`: keeps what Set-Cookie says, drops what it expires. */
export function consoleClient(t: TestApp): ConsoleClient {
  const cookies = new Map<string, string>();
  const send = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookies.size > 0)
      headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await t.request(path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (/max-age=0/i.test(line) || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    return res;
  };
  const client: ConsoleClient = {
    cookies,
    get: (path) => send(path),
    post: (path, fields, headers = {}) =>
      send(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
    async csrf() {
      const page = await send('/console/policies');
      const token = hiddenField(page.text, 'csrf');
      if (!token) throw new Error(`no CSRF token on the page: ${page.status}`);
      return token;
    },
  };
  return client;
}

/** Signs in through the form with `token` (the admin token by default); returns the signed-in client. */
export async function signIn(t: TestApp, token = ADMIN_TOKEN): Promise<ConsoleClient> {
  const client = consoleClient(t);
  const form = await client.get('/console/sign-in');
  const signin = hiddenField(form.text, 'signin');
  if (!signin) throw new Error('no sign-in token on the sign-in page');
  const res = await client.post('/console/sign-in', {
    operator_token: token,
    signin,
    next: '/console',
  });
  if (res.status !== 303)
    throw new Error(`sign-in failed: ${res.status} ${res.text.slice(0, 200)}`);
  return client;
}
