// Operators sign in to the console at the upstream OpenID Provider (oidc-provider in-process, oauth4webapi as Mandate's relying party):
// roles from group claims, approvals recorded as `oidc:<sub>`, refusals that store nothing, state and nonce tampering refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntilIssued } from '../support/action-time.ts';
import { browse, CookieJar, followUpstream } from '../support/authorization-flow.ts';
import { admin, type Credentials, keysUnder, requestToken } from '../support/broker.ts';
import { checkPage, launchChromium, screenshot } from '../support/console-browser.ts';
import { hiddenField } from '../support/console-session.ts';
import type { TestBroker } from '../support/test-broker.ts';
import { type SignInBroker, startSignInBroker } from '../support/upstream-idp.ts';

const CRM = 'https://crm.example.com';
const INTERVAL_SEC = 1;
// Reads for everyone; exports wait for an approver.
const POLICY = `
@id("reads-and-exports") permit(principal, action in [Action::"read", Action::"export"], resource);
@id("export-needs-approval") @remedy("approval")
forbid(principal, action == Action::"export", resource) unless { context.approved };
`;
const OPERATORS = `operators:
  role_groups:
    approver: [mandate-approvers]
    viewer: [mandate-viewers, mandate-approvers]
approvals: { ttl: 120, interval: ${INTERVAL_SEC} }
`;

let setup: SignInBroker;
let broker: TestBroker;
let base: string;
let agent: Credentials;

beforeAll(async () => {
  setup = await startSignInBroker({
    name: 'console-oidc',
    policy: POLICY,
    client: { client_id: 'unused-app', name: 'Unused app', redirect_uris: ['http://127.0.0.1/cb'] },
    resource: 'https://mcp.example.com/mcp',
    extraConfig: OPERATORS,
  });
  ({ broker } = setup);
  base = broker.url;
  agent = await broker.client({ name: 'exporting agent', kind: 'agent' });
}, 60_000);

afterAll(async () => {
  await setup?.close();
});

/** An export that waits for an approver: its auth_req_id. */
async function pendingExport(taskId: string): Promise<string> {
  const asked = await requestToken(base, agent, [
    {
      type: 'agent_task',
      task_id: taskId,
      purpose: 'month-end export',
      actions: ['export'],
      locations: [CRM],
    },
  ]);
  expect(asked.status, asked.text).toBe(400);
  expect(asked.body.error).toBe('approval_required');
  return asked.body.auth_req_id as string;
}

/**
 * Clicks "Sign in with ..." in a fresh browser (`jar`), signs in upstream as `login`, and stops
 * at Mandate's callback URL (not fetched). `tamper` may change the upstream request first.
 */
async function toCallback(
  jar: CookieJar,
  login: string,
  tamper?: (upstream: URL) => void,
): Promise<string> {
  const page = await browse(jar, `${base}/console/sign-in`);
  const html = await page.text();
  const link = /href="(\/console\/sign-in\/oidc\?[^"]*)"/.exec(html)?.[1];
  expect(link, 'the sign-in page offers the provider').toBeDefined();
  const start = await browse(jar, `${base}${(link as string).replaceAll('&amp;', '&')}`);
  expect(start.status).toBe(303);
  const upstream = new URL(start.headers.get('location') ?? '');
  expect(upstream.origin).toBe(setup.idp.issuer);
  expect(upstream.searchParams.get('redirect_uri')).toBe(`${base}/console/callback`);
  tamper?.(upstream);
  return followUpstream(jar, upstream.href, login, (u) => u.pathname === '/console/callback');
}

/** A full sign-in as `login`; returns the browser, signed in. */
async function signedIn(login: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const back = await browse(jar, await toCallback(jar, login));
  expect(back.status, await back.clone().text()).toBe(303);
  return jar;
}

const sessionKeys = async () =>
  (await keysUnder(broker.redisUrl, broker.prefix)).filter((k) => k.includes('console:session:'));

/** The session cookie a response set, if any. */
const sessionCookie = (res: Response) =>
  res.headers.getSetCookie().find((c) => c.startsWith('mandate_console='));

describe('console sign-in at the upstream OpenID Provider', () => {
  it('an approver-group person signs in, sees the inbox, approves with a note, and the approval names oidc:<sub>', async () => {
    const taskId = `export-${Date.now()}`;
    const authReqId = await pendingExport(taskId);

    const jar = new CookieJar();
    const callback = await toCallback(jar, 'carol');
    const back = await browse(jar, callback);
    expect(back.status).toBe(303);
    // The `next` of the sign-in page: the console's start, which puts approvers in the inbox.
    expect(back.headers.get('location')).toBe('/console');
    const cookie = sessionCookie(back) ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/i);
    // The pending sign-in's cookie is cleared by the callback.
    expect(back.headers.getSetCookie().some((c) => /^mandate_console_oidc=;/.test(c))).toBe(true);

    const start = await browse(jar, `${base}/console`);
    expect(start.headers.get('location')).toBe('/console/approvals');
    const inbox = await browse(jar, `${base}/console/approvals`);
    const inboxHtml = await inbox.text();
    expect(inbox.status).toBe(200);
    expect(inboxHtml).toContain(taskId);
    expect(inboxHtml).toContain('Carol Example');
    expect(inboxHtml).toContain('carol@example.com');
    expect(inboxHtml).toContain('(approver, viewer)');

    const detail = await browse(jar, `${base}/console/approvals/${authReqId}`);
    const detailHtml = await detail.text();
    expect(detailHtml).toContain('value="approve"');
    const csrf = hiddenField(detailHtml, 'csrf') ?? '';
    expect(csrf.length).toBeGreaterThan(20);
    const decideUrl = `${base}/console/approvals/${authReqId}`;
    // Without the form's token, or from another site: refused, nothing decided.
    const noToken = await browse(jar, decideUrl, {
      form: { csrf: 'x', decision: 'approve' },
      origin: base,
    });
    expect(noToken.status).toBe(403);
    const crossSite = await browse(jar, decideUrl, {
      form: { csrf, decision: 'approve' },
      origin: 'https://evil.example',
    });
    expect(crossSite.status).toBe(403);

    const approved = await browse(jar, decideUrl, {
      form: { csrf, decision: 'approve', note: 'month-end, ok' },
      origin: base,
    });
    expect(approved.status, await approved.clone().text()).toBe(303);

    const decided = await admin<{ approvals: Array<{ id: string; decided_by: string }> }>(
      base,
      'GET',
      '/admin/approvals?status=approved',
    );
    expect(decided.body.approvals.find((a) => a.id === authReqId)?.decided_by).toBe('oidc:carol');
    const records = await admin<{
      decisions: Array<{ kind: string; inputs: { approval_id?: string; by?: string } }>;
    }>(base, 'GET', `/admin/decisions?client_id=${agent.client_id}&limit=50`);
    const record = records.body.decisions.find(
      (r) => r.kind === 'approval' && r.inputs.approval_id === authReqId,
    );
    expect(record?.inputs.by).toBe('oidc:carol');
    // The approval page shows who decided.
    const shown = await (await browse(jar, decideUrl)).text();
    expect(shown).toContain('oidc:carol');

    const result = await pollUntilIssued(base, agent, authReqId, INTERVAL_SEC);
    expect(result.ok, JSON.stringify(result)).toBe(true);

    // Signing out ends the session on the server.
    const page = await (await browse(jar, `${base}/console/approvals`)).text();
    const out = await browse(jar, `${base}/console/sign-out`, {
      form: { csrf: hiddenField(page, 'csrf') ?? '' },
      origin: base,
    });
    expect(out.status).toBe(303);
    expect((await browse(jar, `${base}/console/approvals`)).status).toBe(303);
  });

  it('a viewer-group person reads the inbox but may not approve (403), and nothing is decided', async () => {
    const authReqId = await pendingExport(`viewer-${Date.now()}`);
    const jar = await signedIn('dave');
    const detail = await browse(jar, `${base}/console/approvals/${authReqId}`);
    const html = await detail.text();
    expect(detail.status).toBe(200);
    expect(html).toContain('(viewer)');
    expect(html).not.toContain('value="approve"');
    const csrf = hiddenField(html, 'csrf') ?? '';
    const tried = await browse(jar, `${base}/console/approvals/${authReqId}`, {
      form: { csrf, decision: 'approve' },
      origin: base,
    });
    expect(tried.status).toBe(403);
    // Policies are not a viewer's either.
    expect((await browse(jar, `${base}/console/policies`)).status).toBe(403);
    const pending = await admin<{ approvals: Array<{ id: string }> }>(
      base,
      'GET',
      '/admin/approvals?status=pending',
    );
    expect(pending.body.approvals.some((a) => a.id === authReqId)).toBe(true);
  });

  it('a person in no mapped group is refused (403 page) and no session is created', async () => {
    const before = await sessionKeys();
    const jar = new CookieJar();
    const back = await browse(jar, await toCallback(jar, 'bob'));
    expect(back.status).toBe(403);
    expect(await back.text()).toContain('No console role');
    expect(sessionCookie(back)).toBeUndefined();
    // The pending sign-in's cookie is cleared on a refusal too.
    expect(back.headers.getSetCookie().some((c) => /^mandate_console_oidc=;/.test(c))).toBe(true);
    expect(await sessionKeys()).toEqual(before);
    const page = await browse(jar, `${base}/console/approvals`);
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(/^\/console\/sign-in/);
  });

  it('a tampered state or nonce, a replayed callback and a callback in another browser are refused', async () => {
    const before = await sessionKeys();
    const refusedWith = async (jar: CookieJar, url: string, status: number) => {
      const res = await browse(jar, url);
      expect(res.status, url).toBe(status);
      expect(sessionCookie(res)).toBeUndefined();
    };

    // The state the provider sends back is not the one this browser started with.
    const stateJar = new CookieJar();
    await refusedWith(
      stateJar,
      await toCallback(stateJar, 'carol', (u) => u.searchParams.set('state', 'forged-state-value')),
      403,
    );

    // The callback's state edited on the way back.
    const editedJar = new CookieJar();
    const edited = new URL(await toCallback(editedJar, 'carol'));
    edited.searchParams.set('state', `${edited.searchParams.get('state')}x`);
    await refusedWith(editedJar, edited.href, 403);

    // The ID token carries another nonce than the one kept for this sign-in.
    const nonceJar = new CookieJar();
    await refusedWith(
      nonceJar,
      await toCallback(nonceJar, 'carol', (u) => u.searchParams.set('nonce', 'forged-nonce-value')),
      403,
    );

    // A genuine callback: in another browser (no cookie) it is refused; where it started it
    // works once; replayed with a copy of that browser's cookie, it is refused.
    const jar = new CookieJar();
    const genuine = await toCallback(jar, 'carol');
    const copied = /mandate_console_oidc=[^;]+/.exec(jar.header(base))?.[0];
    expect(copied).toBeDefined();
    await refusedWith(new CookieJar(), genuine, 400);
    const first = await browse(jar, genuine);
    expect(first.status).toBe(303);
    const replayJar = new CookieJar();
    replayJar.store(base, new Response(null, { headers: { 'set-cookie': copied as string } }));
    await refusedWith(replayJar, genuine, 400);

    // Only the genuine sign-in made a session.
    expect((await sessionKeys()).length).toBe(before.length + 1);
  });
});

describe('console sign-in at the provider in Chromium', () => {
  it('the sign-in page offers the provider (axe-checked), and a click through its login lands in the inbox', async (ctx) => {
    const browser = await launchChromium();
    ctx.onTestFinished(() => browser.close());
    // The CSP is enforced on the way; axe runs in a twin context that bypasses it.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    const twin = await browser.newContext({
      viewport: { width: 390, height: 844 },
      bypassCSP: true,
    });
    const twinPage = await twin.newPage();
    await twinPage.goto(page.url());
    await checkPage(ctx, twinPage, '20-sign-in-with-provider');
    await twin.close();

    await page.getByRole('link', { name: /Sign in with 127\.0\.0\.1/ }).click();
    // oidc-provider's development login and consent forms.
    await page.locator('input[name="login"]').fill('carol');
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((u) => u.pathname === '/console/approvals');
    expect(await page.locator('header').textContent()).toContain('Carol Example');
    await screenshot(ctx, page, '21-signed-in-with-provider');
    await context.close();
  });
});
