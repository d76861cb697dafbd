// Console sign-in at the upstream OpenID Provider through app.request(): cookie flags on an https issuer, `next` kept on the console, and the pages when it is not configured or maps no role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveOperator } from '../../src/http/console/operator.ts';
import { CookieJar, followUpstream } from '../support/authorization-flow.ts';
import { consoleClient } from '../support/console-session.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';

const ISSUER = 'https://mandate.test';

let idp: UpstreamIdp;
let secure: TestApp;
let noRoles: TestApp;
let noLogin: TestApp;

beforeAll(async () => {
  idp = await startUpstreamIdp(`${ISSUER}/console/callback`);
  [secure, noRoles, noLogin] = await Promise.all([
    createTestApp({
      name: 'http-console-oidc',
      issuer: ISSUER,
      config: `${idp.loginConfig}    display_name: Example SSO\n  starts_per_source_per_minute: 3\noperators:\n  role_groups:\n    approver: [mandate-approvers]\n`,
    }),
    // login.oidc set (the provider is never asked), but no role mapped.
    createTestApp({
      name: 'http-console-oidc-off',
      config: 'login:\n  oidc: { issuer: "http://127.0.0.1:9", client_id: c, client_secret: s }\n',
    }),
    createTestApp({ name: 'http-console-oidc-none' }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([secure?.close(), noRoles?.close(), noLogin?.close()]);
  await idp?.close();
});

const cookieLine = (res: { headers: Headers }, name: string) =>
  res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`)) ?? '';

describe('console sign-in at the provider on an https issuer', () => {
  it('offers the provider, keeps the sign-in in a __Host- cookie, and opens a Secure session on the console only', async () => {
    const browser = consoleClient(secure);
    const page = await browser.get('/console/sign-in?next=/console/grants');
    expect(page.text).toContain('Sign in with Example SSO');

    // A `next` off the console is dropped: after sign-in the browser lands on the console.
    const start = await browser.get('/console/sign-in/oidc?next=https://evil.example/x');
    expect(start.status).toBe(303);
    const started = cookieLine(start, '__Host-mandate_console_oidc');
    for (const flag of [/HttpOnly/i, /Secure/i, /SameSite=Lax/i, /Path=\//, /Max-Age=300/])
      expect(started).toMatch(flag);
    const upstream = new URL(start.headers.get('location') ?? '');
    expect(upstream.origin).toBe(idp.issuer);
    for (const p of ['state', 'nonce', 'code_challenge'])
      expect(upstream.searchParams.get(p)?.length ?? 0).toBeGreaterThan(20);
    expect(upstream.searchParams.get('code_challenge_method')).toBe('S256');
    // Nothing of the sign-in is in the cookie but a random id.
    expect(started).not.toContain(upstream.searchParams.get('state') as string);

    const callback = new URL(
      await followUpstream(new CookieJar(), upstream.href, 'carol', (u) => u.origin === ISSUER),
    );
    expect(callback.pathname).toBe('/console/callback');
    const back = await browser.get(`${callback.pathname}${callback.search}`);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/console');
    const session = cookieLine(back, '__Host-mandate_console');
    for (const flag of [/HttpOnly/i, /Secure/i, /SameSite=Lax/i, /Path=\//])
      expect(session).toMatch(flag);
    const inbox = await browser.get('/console/approvals');
    expect(inbox.status).toBe(200);
    expect(inbox.text).toContain('Carol Example');
    expect(inbox.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('a source that starts more sign-ins than login.starts_per_source_per_minute gets a 429 page', async () => {
    const browser = consoleClient(secure);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await browser.get('/console/sign-in/oidc')).status);
    // One start came from the test above within the same minute (or this minute began since).
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 303).length).toBeGreaterThanOrEqual(2);
  });
});

describe('console sign-in at the provider, not set up', () => {
  it('login.oidc without operators.role_groups: no button, and a clear refusal that asks the provider nothing', async () => {
    const browser = consoleClient(noRoles);
    const page = await browser.get('/console/sign-in');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('/console/sign-in/oidc');
    for (const path of ['/console/sign-in/oidc', '/console/callback?code=x&state=y']) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(403);
      expect(res.text).toContain('operators.role_groups');
      expect(res.headers.getSetCookie()).toEqual([]);
    }
  });

  it('without login.oidc the routes are 404 pages', async () => {
    const browser = consoleClient(noLogin);
    expect((await browser.get('/console/sign-in')).text).not.toContain('/console/sign-in/oidc');
    for (const path of ['/console/sign-in/oidc', '/console/callback'])
      expect((await browser.get(path)).status, path).toBe(404);
  });
});

describe('the roles of an open session signed in at the provider', () => {
  // What the console's session check sees: the groups of the sign-in, the mapping of this process.
  const operator = { id: 'oidc:00u1', name: 'Ada', roles: ['approver' as const] };
  const withMapping = (roleGroups: Record<string, string[]> | undefined) => ({
    broker: secure.deps.broker,
    console: roleGroups ? { oidc: { roleGroups } } : undefined,
  });

  it('are the sign-in groups mapped by the current operators.role_groups', async () => {
    const session = { operator, groups: ['on-call', 'staff'] };
    expect(await liveOperator(withMapping({ approver: ['on-call'] }), session)).toEqual(operator);
    expect(
      (await liveOperator(withMapping({ viewer: ['staff'], approver: ['sec'] }), session))?.roles,
    ).toEqual(['viewer']);
  });

  it('end the session when the mapping leaves none, or upstream sign-in is gone', async () => {
    const session = { operator, groups: ['on-call'] };
    expect(await liveOperator(withMapping({ approver: ['sec'] }), session)).toBeUndefined();
    expect(await liveOperator(withMapping({}), session)).toBeUndefined();
    expect(await liveOperator(withMapping(undefined), session)).toBeUndefined();
    expect(
      await liveOperator(withMapping({ approver: ['on-call'] }), { operator }),
    ).toBeUndefined();
  });
});
