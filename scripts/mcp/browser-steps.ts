// A browser's steps through /oauth/authorize, with fetch: redirects followed by hand, a cookie jar, the upstream dev login and Mandate's consent form.

/** Cookies per origin (host:port), enough for oidc-provider's and Mandate's. */
export class CookieJar {
  private readonly byOrigin = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const origin = new URL(url).host;
    const jar = this.byOrigin.get(origin) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.byOrigin.set(origin, jar);
  }

  header(url: string): string {
    const jar = this.byOrigin.get(new URL(url).host);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }
}

/** One request as a browser sends it: cookies in, cookies out, no redirect followed. */
export async function browse(
  jar: CookieJar,
  url: string,
  init: { method?: string; form?: Record<string, string>; origin?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { cookie: jar.header(url) };
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (init.origin) headers.origin = init.origin;
  const res = await fetch(url, {
    method: init.method ?? (init.form ? 'POST' : 'GET'),
    headers,
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    redirect: 'manual',
  });
  jar.store(url, res);
  return res;
}

const locationOf = (from: string, res: Response) =>
  new URL(res.headers.get('location') ?? '', from).href;

/** Where the consent page is, once the person signed in upstream, with its HTML. */
export interface ConsentStep {
  readonly url: string;
  readonly html: string;
  readonly csrf: string;
}

/**
 * From `startUrl` through the upstream provider's dev login (as `login`) and consent forms,
 * following redirects, until a URL `stopAt` accepts: returned without fetching it.
 */
export async function followUpstream(
  jar: CookieJar,
  startUrl: string,
  login: string,
  stopAt: (url: URL) => boolean,
): Promise<string> {
  let url = startUrl;
  for (let hops = 0; hops < 20; hops++) {
    if (stopAt(new URL(url))) return url;
    const res = await browse(jar, url);
    if (res.status >= 300 && res.status < 400) {
      url = locationOf(url, res);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${html.slice(0, 300)}`);
    // oidc-provider's dev interaction: a login form, then a consent form.
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const form: Record<string, string> =
      prompt === 'login' ? { prompt, login, password: 'any' } : { prompt: prompt ?? 'consent' };
    const posted = await browse(jar, url, { form });
    if (posted.status < 300) throw new Error(`${url} ${prompt}: ${posted.status}, no redirect`);
    url = locationOf(url, posted);
  }
  throw new Error('too many redirects');
}

/**
 * From Mandate's /oauth/authorize URL: the upstream sign-in as `login` (its dev login and consent
 * forms), back through Mandate's callback, to Mandate's consent page.
 */
export async function signInUpstream(
  jar: CookieJar,
  authorizeUrl: string,
  login = 'alice',
): Promise<ConsentStep> {
  const url = await followUpstream(
    jar,
    authorizeUrl,
    login,
    (u) => u.pathname === '/oauth/consent',
  );
  const res = await browse(jar, url);
  const html = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${html.slice(0, 300)}`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { url, html, csrf };
}

/** Posts the consent form; returns where Mandate sends the browser (the client's redirect). */
export async function answerConsent(
  jar: CookieJar,
  consent: ConsentStep,
  decision: 'approve' | 'deny',
  form: Record<string, string> = { csrf: consent.csrf, decision },
): Promise<Response> {
  return browse(jar, consent.url, { form });
}
