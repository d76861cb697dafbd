// The console's security properties through app.request(): sessions, cookie flags, CSRF, CSP, sign-out, redirects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, task } from '../support/broker.ts';
import {
  type ConsoleClient,
  consoleClient,
  hiddenField,
  signIn,
} from '../support/console-session.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let secure: TestApp;

beforeAll(async () => {
  [t, secure] = await Promise.all([
    createTestApp({ name: 'http-console' }),
    createTestApp({ name: 'http-console-tls', issuer: 'https://mandate.test' }),
  ]);
});

afterAll(async () => {
  await Promise.all([t?.close(), secure?.close()]);
});

const PAGES = [
  '/console',
  '/console/approvals',
  '/console/approvals/ar_unknown',
  '/console/grants',
  '/console/grants/g_unknown',
  '/console/agents',
  '/console/agents/agent-x',
  '/console/agents/agent-x/disable',
  '/console/policies',
  '/console/audit',
  '/console/audit/verify',
  '/console/counts',
  '/console/no-such-page',
];

const sessionCookieOf = (setCookies: string[], name: string) =>
  setCookies.find((c) => c.startsWith(`${name}=`));

async function agentState(id: string): Promise<boolean> {
  const res = await t.admin<{ disabled: boolean }>('GET', `/admin/clients/${id}`);
  expect(res.status).toBe(200);
  return res.body.disabled;
}

describe('console: no session, no page', () => {
  it('every page redirects to sign-in and shows no data, with no cookie or a forged one', async () => {
    const anonymous = consoleClient(t);
    const forged = consoleClient(t);
    forged.cookies.set('mandate_console', 'forged-session-id-0123456789');
    for (const client of [anonymous, forged]) {
      for (const path of PAGES) {
        const res = await client.get(path);
        expect(res.status, path).toBe(303);
        expect(res.headers.get('location'), path).toMatch(/^\/console\/sign-in\?next=/);
        expect(res.text).toBe('');
      }
    }
  });

  it('every action is refused (403) without a session, and nothing changes', async () => {
    const { client_id } = await t.client({ name: 'untouched', kind: 'agent', groups: ['writers'] });
    const anonymous = consoleClient(t);
    for (const path of [
      `/console/agents/${client_id}/disable`,
      '/console/grants/g_x/revoke',
      '/console/approvals/ar_x',
      '/console/policies/apply',
      '/console/sign-out',
    ]) {
      const res = await anonymous.post(path, { csrf: 'x', reason: 'r', decision: 'approve' });
      expect(res.status, path).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
    expect(await agentState(client_id)).toBe(false);
  });
});

describe('console: sign-in and the session cookie', () => {
  it('a wrong token gets 401 and no session cookie', async () => {
    const client = consoleClient(t);
    const form = await client.get('/console/sign-in');
    const res = await client.post('/console/sign-in', {
      operator_token: 'not-an-operator-token-123',
      signin: hiddenField(form.text, 'signin') ?? '',
    });
    expect(res.status).toBe(401);
    expect(sessionCookieOf(res.headers.getSetCookie(), 'mandate_console')).toBeUndefined();
  });

  it('a sign-in post without the form token of its own page is refused (login CSRF)', async () => {
    const client = consoleClient(t);
    const res = await client.post('/console/sign-in', {
      operator_token: ADMIN_TOKEN,
      signin: 'guessed',
    });
    expect(res.status).toBe(403);
    expect(client.cookies.has('mandate_console')).toBe(false);
  });

  it('over http: HttpOnly, SameSite=Lax, Path=/, not Secure; the value is random, never the token', async () => {
    const client = consoleClient(t);
    const form = await client.get('/console/sign-in');
    const res = await client.post('/console/sign-in', {
      operator_token: ADMIN_TOKEN,
      signin: hiddenField(form.text, 'signin') ?? '',
    });
    expect(res.status).toBe(303);
    const cookie = sessionCookieOf(res.headers.getSetCookie(), 'mandate_console');
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/; Secure/);
    expect(cookie).not.toContain(ADMIN_TOKEN);
    expect(client.cookies.get('mandate_console')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('over https: the __Host- cookie is Secure, HttpOnly and SameSite=Lax', async () => {
    const client = await signIn(secure);
    expect(client.cookies.has('__Host-mandate_console')).toBe(true);
    const form = await consoleClient(secure).get('/console/sign-in');
    const signinCookie = form.headers.getSetCookie()[0] ?? '';
    expect(signinCookie).toMatch(/^__Host-mandate_console_signin=.*; Secure/);
    const again = consoleClient(secure);
    const page = await again.get('/console/sign-in');
    const res = await again.post('/console/sign-in', {
      operator_token: ADMIN_TOKEN,
      signin: hiddenField(page.text, 'signin') ?? '',
    });
    const cookie = sessionCookieOf(res.headers.getSetCookie(), '__Host-mandate_console');
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/; Domain=/i);
  });

  it('after sign-in, `next` is followed only within the console', async () => {
    for (const [next, expected] of [
      ['/console/grants?status=revoked', '/console/grants?status=revoked'],
      ['//evil.example/console', '/console'],
      ['https://evil.example/', '/console'],
      ['/console\\@evil.example', '/console'],
    ] as const) {
      const client = consoleClient(t);
      const form = await client.get('/console/sign-in');
      const res = await client.post('/console/sign-in', {
        operator_token: ADMIN_TOKEN,
        signin: hiddenField(form.text, 'signin') ?? '',
        next,
      });
      expect(res.headers.get('location'), next).toBe(expected);
    }
  });

  it('sign-out ends the session in the store: the old cookie opens nothing', async () => {
    const client = await signIn(t);
    const id = client.cookies.get('mandate_console') ?? '';
    expect((await client.get('/console/agents')).status).toBe(200);
    const out = await client.post('/console/sign-out', { csrf: await client.csrf() });
    expect(out.status).toBe(303);
    expect(client.cookies.has('mandate_console')).toBe(false);
    const replay = consoleClient(t);
    replay.cookies.set('mandate_console', id);
    const res = await replay.get('/console/agents');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/console\/sign-in/);
  });
});

describe('console: CSRF', () => {
  let client: ConsoleClient;
  beforeAll(async () => {
    client = await signIn(t);
  });

  it('the kill switch without, or with a wrong, CSRF token: 403 and the agent stays enabled', async () => {
    const { client_id } = await t.client({
      name: 'csrf target',
      kind: 'agent',
      groups: ['writers'],
    });
    const path = `/console/agents/${client_id}/disable`;
    expect((await client.post(path, {})).status).toBe(400);
    expect((await client.post(path, { csrf: 'wrong-token' })).status).toBe(403);
    // Another session's token is wrong here too.
    const other = await signIn(t);
    expect((await client.post(path, { csrf: await other.csrf() })).status).toBe(403);
    // Right token, posted from another site.
    const cross = await client.post(
      path,
      { csrf: await client.csrf() },
      { origin: 'https://evil.example' },
    );
    expect(cross.status).toBe(403);
    expect(await agentState(client_id)).toBe(false);
    const ok = await client.post(path, { csrf: await client.csrf() }, { origin: t.issuer });
    expect(ok.status).toBe(303);
    expect(await agentState(client_id)).toBe(true);
  });

  it('revoking a grant with a wrong CSRF token: 403 and the grant stays active', async () => {
    const { agent } = await t.clients();
    const minted = await t.mint(agent, [task(['read'])]);
    const grantId = minted.grant_id as string;
    const res = await client.post(`/console/grants/${grantId}/revoke`, {
      csrf: 'wrong',
      reason: 'csrf test',
    });
    expect(res.status).toBe(403);
    const grant = await t.admin<{ status: string }>('GET', `/admin/grants/${grantId}`);
    expect(grant.body.status).toBe('active');
  });

  it('applying a policy with a wrong CSRF token: 403 and the version stays', async () => {
    const before = await t.admin<{ version: number; policies: string }>('GET', '/admin/policies');
    const res = await client.post('/console/policies/apply', {
      csrf: 'wrong',
      policies: `${before.body.policies}\n// changed\n`,
      simulated: 'x',
      base_version: String(before.body.version),
    });
    expect(res.status).toBe(403);
    const after = await t.admin<{ version: number }>('GET', '/admin/policies');
    expect(after.body.version).toBe(before.body.version);
  });
});

describe('console: Content-Security-Policy and pages', () => {
  it('every page has a strict CSP, no inline script, no inline style, no event handler attribute', async () => {
    const client = await signIn(t);
    const pages = ['/console/sign-in', ...PAGES.filter((p) => !p.endsWith('counts'))];
    for (const path of pages) {
      const res = await client.get(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).not.toContain('unsafe-eval');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.text, path).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(res.text, path).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    }
  });

  it('the assets are served from the console itself', async () => {
    const css = await t.request('/console/assets/console.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    const js = await t.request('/console/assets/console.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('an unknown grant or approval is an HTML 404 page, not a problem+json', async () => {
    const client = await signIn(t);
    for (const path of ['/console/grants/g_unknown', '/console/approvals/ar_unknown']) {
      const res = await client.get(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });
});

describe('console: operator roles', () => {
  async function operatorToken(roles: string[]): Promise<{ id: string; token: string }> {
    const res = await t.admin<{ id: string; token: string }>('POST', '/admin/tokens', {
      name: `console ${roles.join('+')}`,
      roles,
    });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  it('a viewer sees what viewers read, and is refused (403) the kill switch and the policies', async () => {
    const { client_id } = await t.client({ name: 'viewer target', kind: 'agent' });
    const viewer = await signIn(t, (await operatorToken(['viewer'])).token);
    const agents = await viewer.get('/console/agents');
    expect(agents.status).toBe(200);
    expect(agents.text).not.toContain('href="/console/policies"');
    expect(agents.text).not.toContain('href="/console/audit"');
    expect((await viewer.get('/console/policies')).status).toBe(403);
    expect((await viewer.get('/console/audit')).status).toBe(403);
    expect((await viewer.get(`/console/agents/${client_id}/disable`)).status).toBe(403);
    const csrf = hiddenField(agents.text, 'csrf') ?? '';
    const res = await viewer.post(`/console/agents/${client_id}/disable`, { csrf });
    expect(res.status).toBe(403);
    expect(await agentState(client_id)).toBe(false);
  });

  it('an approver decides approvals but cannot revoke grants', async () => {
    const approver = await signIn(t, (await operatorToken(['approver'])).token);
    const { agent } = await t.clients();
    const minted = await t.mint(agent, [task(['read'])]);
    const page = await approver.get(`/console/grants/${minted.grant_id}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('/revoke"');
    const res = await approver.post(`/console/grants/${minted.grant_id}/revoke`, {
      csrf: hiddenField(page.text, 'csrf') ?? '',
      reason: 'not mine to revoke',
    });
    expect(res.status).toBe(403);
  });

  it('revoking an operator token ends its console sessions at once', async () => {
    const { id, token } = await operatorToken(['auditor']);
    const auditor = await signIn(t, token);
    expect((await auditor.get('/console/audit')).status).toBe(200);
    expect((await t.admin('DELETE', `/admin/tokens/${id}`)).status).toBeLessThan(300);
    const res = await auditor.get('/console/audit');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/console\/sign-in/);
  });
});

describe('console: sign-in guessing', () => {
  it('failed sign-ins count against the source like failed admin tokens: then 429', async () => {
    const limited = await createTestApp({
      name: 'http-console-limit',
      config: 'rate_limit: { auth_failures_per_source_per_minute: 3 }\n',
    });
    try {
      const client = consoleClient(limited);
      let page = await client.get('/console/sign-in');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await client.post('/console/sign-in', {
          operator_token: `guess-${i}-0123456789abcdef`,
          signin: hiddenField(page.text, 'signin') ?? '',
        });
        statuses.push(res.status);
        if (res.status === 401) page = res;
      }
      expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
      expect(statuses.at(-1)).toBe(429);
      expect(client.cookies.has('mandate_console')).toBe(false);
    } finally {
      await limited.close();
    }
  });
});
