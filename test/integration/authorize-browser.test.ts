// The authorization code flow in real headless Chromium: upstream sign-in at oidc-provider, Mandate's consent page (phone-sized, axe-checked, CSP enforced), the code redeemed with oauth4webapi.
import { createServer } from 'node:http';
import * as oauth from 'oauth4webapi';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Credentials } from '../support/broker.ts';
import { checkPage, launchChromium } from '../support/console-browser.ts';
import { freePort } from '../support/redis-server.ts';
import type { TestBroker } from '../support/test-broker.ts';
import { discover, insecure } from '../support/token-exchange.ts';
import { type SignInBroker, startSignInBroker, type UpstreamIdp } from '../support/upstream-idp.ts';

const MCP = 'https://mcp.example.com/mcp';
const POLICY = `
@id("support-reads") permit(principal, action == Action::"read", resource)
  when { context has on_behalf_of && context.on_behalf_of.groups.contains("support") };
`;

let browser: Browser;
let idp: UpstreamIdp;
let broker: TestBroker;
let resource: Credentials;
const app: oauth.Client = { client_id: 'vs-code', token_endpoint_auth_method: 'none' };

let setup: SignInBroker;

beforeAll(async () => {
  browser = await launchChromium();
  setup = await startSignInBroker({
    name: 'authorize-browser',
    policy: POLICY,
    client: {
      client_id: app.client_id,
      name: 'VS Code',
      redirect_uris: ['http://127.0.0.1/callback'],
    },
    resource: MCP,
  });
  ({ idp, broker, resource } = setup);
  expect(setup.registered.status, setup.registered.text).toBe(201);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await setup?.close();
});

describe('authorization code flow in Chromium', () => {
  it('a person signs in upstream, reads the consent page on a phone, allows, and the app gets a token for them', async (ctx) => {
    const as = await discover(broker.issuer);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const appPort = await freePort();
    const redirectUri = `http://127.0.0.1:${appPort}/callback`;
    const url = new URL(as.authorization_endpoint as string);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: app.client_id,
      redirect_uri: redirectUri,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      resource: MCP,
      scope: 'tools:read delete',
    }).toString();

    // A phone-sized window; the CSP is enforced (no bypass).
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    context.setDefaultTimeout(10_000);
    // The app's loopback listener, as a desktop MCP client runs one: the URL is what it reads.
    let landed: URL | undefined;
    const listener = createServer((req, res) => {
      // Only the redirect counts (the browser also asks this origin for /favicon.ico).
      const url = new URL(req.url ?? '/', redirectUri);
      if (url.pathname === '/callback') landed = url;
      res.end('You may close this window.');
    });
    await new Promise<void>((resolve) => listener.listen(appPort, '127.0.0.1', resolve));
    ctx.onTestFinished(() => {
      listener.closeAllConnections();
      listener.close();
    });
    const page = await context.newPage();
    await page.goto(url.href);
    // oidc-provider's development login and consent forms.
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    // Click consent only once its page is there (the login page has a submit button too).
    await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((u) => u.pathname === '/oauth/consent');

    const main = page.locator('main');
    expect(await main.textContent()).toContain('VS Code');
    expect(await main.textContent()).toContain(`127.0.0.1:${appPort}`);
    expect(await page.getByRole('heading', { name: 'Refused by policy' }).count()).toBe(1);
    // axe is injected as a script, which the page's CSP refuses: it runs in a twin context
    // (same cookies, CSP bypassed) on the same consent page.
    const twin = await browser.newContext({
      viewport: { width: 390, height: 844 },
      bypassCSP: true,
      storageState: await context.storageState(),
    });
    const twinPage = await twin.newPage();
    await twinPage.goto(page.url());
    await checkPage(ctx, twinPage, '10-consent-phone');
    await twin.close();
    await page.getByRole('button', { name: 'Allow' }).click();
    await expect.poll(() => landed?.href, { timeout: 10_000 }).toContain('code=');
    await context.close();

    const params = oauth.validateAuthResponse(as, app, landed as URL, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      app,
      await oauth.authorizationCodeGrantRequest(
        as,
        app,
        oauth.None(),
        params,
        redirectUri,
        verifier,
        {
          ...insecure,
          additionalParameters: { resource: MCP },
        },
      ),
    );
    const seen = await oauth.processIntrospectionResponse(
      as,
      { client_id: resource.client_id },
      await oauth.introspectionRequest(
        as,
        { client_id: resource.client_id },
        oauth.ClientSecretBasic(resource.client_secret),
        tokens.access_token,
        insecure,
      ),
    );
    expect(seen.active).toBe(true);
    expect(seen.sub).toBe(`${idp.issuer}|alice`);
  });
});
