// The operator console in real headless Chromium against a running broker: approve an export, find why a grant was
// revoked, disable an agent, edit -> simulate -> apply a policy; axe-core on every page, screenshots in the report.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_CONFIG, pollUntilIssued } from '../support/action-time.ts';
import {
  ADMIN_TOKEN,
  admin,
  CRM,
  type Credentials,
  createClient,
  introspect,
  mintToken,
  requestToken,
  task,
} from '../support/broker.ts';
import { checkPage, launchChromium, screenshot } from '../support/console-browser.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const INTERVAL_SEC = 1;

let broker: TestBroker;
let base: string;
let browser: Browser;
let resource: Credentials;
let adminPage: Page;
const contexts: BrowserContext[] = [];

/** A browser context (its own cookies) signed in with `token` through the sign-in form. */
async function signedIn(token: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport, bypassCSP: true });
  // A missing element fails in seconds, not at the test's timeout.
  context.setDefaultTimeout(10_000);
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  expect(new URL(page.url()).pathname).toBe('/console/sign-in');
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname !== '/console/sign-in');
  return page;
}

beforeAll(async () => {
  // Launch first: a missing Chromium fails the file at once, with what to install.
  browser = await launchChromium();
  broker = await startTestBroker({
    name: 'console-browser',
    config: `${POLICY_CONFIG}\napprovals: { ttl: 120, interval: ${INTERVAL_SEC} }\n`,
  });
  base = broker.url;
  resource = await createClient(base, { name: 'crm', kind: 'resource', resources: [CRM] });
  adminPage = await signedIn(ADMIN_TOKEN);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await broker?.close();
});

describe('console in Chromium', () => {
  it('the sign-in page is accessible', async (ctx) => {
    const context = await browser.newContext({ bypassCSP: true });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/console/sign-in`);
    await checkPage(ctx, page, '00-sign-in');
  });

  it('an approver sees the pending export with its reasons, approves it with a note, and the agent then gets its token', async (ctx) => {
    const agent = await createClient(base, {
      name: 'exporting agent',
      kind: 'agent',
      groups: ['exporters', 'writers'],
    });
    const taskId = `export-${Date.now()}`;
    const asked = await requestToken(base, agent, [
      {
        type: 'agent_task',
        task_id: taskId,
        purpose: 'quarterly export',
        actions: ['read', 'export'],
        locations: [CRM],
      },
    ]);
    expect(asked.status, asked.text).toBe(400);
    expect(asked.body.error).toBe('approval_required');
    const authReqId = asked.body.auth_req_id as string;

    const approverToken = await admin<{ id: string; token: string }>(
      base,
      'POST',
      '/admin/tokens',
      {
        name: 'on-call approver',
        roles: ['approver'],
      },
    );
    expect(approverToken.status, approverToken.text).toBe(201);
    const page = await signedIn(approverToken.body.token);
    // The approvals inbox comes first.
    expect(new URL(page.url()).pathname).toBe('/console/approvals');
    const row = page.getByRole('row').filter({ hasText: taskId });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('export-needs-approval');
    expect(await row.textContent()).toContain('quarterly export');
    await checkPage(ctx, page, '01-approvals-inbox');

    await row.getByRole('link').click();
    // The deep link approval notifications carry.
    expect(new URL(page.url()).pathname).toBe(`/console/approvals/${authReqId}`);
    const main = page.locator('main');
    expect(await main.textContent()).toContain('export-needs-approval');
    expect(await main.textContent()).toContain('127.0.0.1');
    await checkPage(ctx, page, '02-approval-detail');

    await page.getByLabel('Note (kept with the decision)').fill('ok for the quarterly close');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/notice=approved/);
    expect(await page.getByRole('status').textContent()).toContain('Approved');
    await screenshot(ctx, page, '03-approval-approved');

    const decided = await admin<{
      approvals: Array<{ id: string; decided_by: string; note: string }>;
    }>(base, 'GET', '/admin/approvals?status=approved');
    const mine = decided.body.approvals.find((a) => a.id === authReqId);
    expect(mine?.decided_by).toBe(approverToken.body.id);
    expect(mine?.note).toBe('ok for the quarterly close');

    const result = await pollUntilIssued(base, agent, authReqId, INTERVAL_SEC);
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (result.ok) expect(typeof result.tokens.access_token).toBe('string');
  });

  it('an operator finds a revoked grant and why in its timeline', async (ctx) => {
    const agent = await createClient(base, {
      name: 'leaky agent',
      kind: 'agent',
      groups: ['writers'],
    });
    const minted = await mintToken(base, agent, [task(['read'])]);
    const grantId = minted.grant_id as string;
    const revoked = await admin(base, 'POST', '/admin/revocations', {
      grant_id: grantId,
      reason: 'suspected exfiltration',
    });
    expect(revoked.status, revoked.text).toBe(200);

    const page = adminPage;
    await page.goto(`${base}/console/grants`);
    await page.getByLabel('Status').selectOption('revoked');
    await page.getByLabel('Agent').fill(agent.client_id);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=revoked/);
    await checkPage(ctx, page, '04-grants-revoked');
    await page.getByRole('link', { name: grantId }).click();
    expect(new URL(page.url()).pathname).toBe(`/console/grants/${grantId}`);
    const why = await page.locator('.why-box').textContent();
    expect(why).toContain('suspected exfiltration');
    expect(why).toContain('bootstrap');
    const timeline = page.locator('ol.timeline > li');
    expect(await timeline.count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('ol.timeline > li.ending').textContent()).toContain('revocation');
    await checkPage(ctx, page, '05-grant-timeline');
  });

  it('disabling an agent takes a confirmation, and its tokens go inactive at introspection', async (ctx) => {
    const agent = await createClient(base, {
      name: 'runaway agent',
      kind: 'agent',
      groups: ['writers'],
    });
    const minted = await mintToken(base, agent, [task(['read'])]);
    const before = await introspect(base, resource, minted.access_token);
    expect(before.body.active).toBe(true);

    const page = adminPage;
    await page.goto(`${base}/console/agents`);
    await checkPage(ctx, page, '06-agents');
    await page.getByRole('link', { name: agent.client_id }).click();
    await checkPage(ctx, page, '07-agent');
    await page.getByRole('link', { name: /Disable agent/ }).click();
    expect(new URL(page.url()).pathname).toBe(`/console/agents/${agent.client_id}/disable`);
    // The confirmation page changed nothing yet.
    expect((await introspect(base, resource, minted.access_token)).body.active).toBe(true);
    await checkPage(ctx, page, '08-agent-disable-confirm');
    await page.getByRole('button', { name: `Yes, disable ${agent.client_id}` }).click();
    await page.waitForURL(/notice=disabled/);
    await screenshot(ctx, page, '09-agent-disabled');

    const after = await introspect(base, resource, minted.access_token);
    expect(after.status).toBe(200);
    expect(after.body.active).toBe(false);
  });

  it('edits a policy, sees the simulation with counts, and applies it', async (ctx) => {
    const reader = await createClient(base, { name: 'reader', kind: 'agent', groups: ['writers'] });
    await mintToken(base, reader, [task(['read'])]);
    const before = await admin<{ version: number; policies: string }>(
      base,
      'GET',
      '/admin/policies',
    );

    const page = adminPage;
    await page.goto(`${base}/console/policies`);
    await checkPage(ctx, page, '10-policies');
    const edited = `${before.body.policies}\n@id("freeze-crm-reads")\nforbid (principal, action == Action::"read", resource);\n`;
    await page.getByLabel('Cedar policy set').fill(edited);
    await page.getByRole('button', { name: 'Validate and simulate' }).click();
    await page.waitForURL(/\/console\/policies\/check$/);
    const revokeCount = Number(await page.locator('td[data-outcome="revoke"]').textContent());
    expect(revokeCount).toBeGreaterThanOrEqual(1);
    expect(await page.locator('.simulation').textContent()).toContain('freeze-crm-reads');
    await checkPage(ctx, page, '11-policy-simulation');

    await page.getByRole('button', { name: 'Apply this policy set' }).click();
    await page.waitForURL(/notice=applied/);
    await screenshot(ctx, page, '12-policy-applied');
    const after = await admin<{ version: number; policies: string }>(
      base,
      'GET',
      '/admin/policies',
    );
    expect(after.body.version).toBe(before.body.version + 1);
    expect(after.body.policies).toBe(edited);
  });

  it('audit: the chain verifies and decisions are searchable', async (ctx) => {
    const page = adminPage;
    await page.goto(`${base}/console/audit?kind=approval`);
    expect(await page.locator('tbody').textContent()).toContain('approved');
    await checkPage(ctx, page, '13-audit');
    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    expect(await page.getByRole('status').textContent()).toContain('The chain holds');
    await checkPage(ctx, page, '14-audit-verify');
  });

  it('on a phone: no sideways scrolling, and the skip link comes first from the keyboard', async (ctx) => {
    const page = await signedIn(ADMIN_TOKEN, { width: 390, height: 844 });
    for (const path of ['/console/approvals', '/console/grants', '/console/agents']) {
      await page.goto(`${base}${path}`);
      const overflow = await page.evaluate(() => {
        const { document, innerWidth } = globalThis as unknown as {
          document: { documentElement: { scrollWidth: number } };
          innerWidth: number;
        };
        return document.documentElement.scrollWidth - innerWidth;
      });
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
    await screenshot(ctx, page, '15-phone-agents');
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { textContent: string } } })
            .document.activeElement.textContent,
      ),
    ).toBe('Skip to content');
  });

  it('under the real CSP the stylesheet and script load, and an injected inline script does not run', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text()))
        violations.push(m.text());
    });
    const assets: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/console/assets/') && r.ok()) assets.push(new URL(r.url()).pathname);
    });
    await page.goto(`${base}/console/sign-in`);
    await page.getByLabel('Operator token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/approvals/);
    expect(violations).toEqual([]);
    expect(assets).toEqual(
      expect.arrayContaining(['/console/assets/console.css', '/console/assets/console.js']),
    );
    // The stylesheet applied: the header has its dark background.
    const background = await page
      .locator('header.top')
      .evaluate(
        (el) =>
          (
            globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
          ).getComputedStyle(el).backgroundColor,
      );
    expect(background).toBe('rgb(22, 33, 46)');
    await page.addScriptTag({ content: 'globalThis.inlineRan = true;' }).catch(() => undefined);
    expect(
      await page.evaluate(() => (globalThis as { inlineRan?: boolean }).inlineRan),
    ).toBeUndefined();
    expect(violations.length).toBeGreaterThan(0);
  });
});
