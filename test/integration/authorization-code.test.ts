// The MCP authorization-server profile over sockets: oauth4webapi as the MCP client, oidc-provider as the upstream IdP, the consent form posted by hand; every bad input gets its RFC error and nothing is issued.
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerConsent,
  browse,
  type ConsentStep,
  CookieJar,
  signInUpstream,
} from '../support/authorization-flow.ts';
import { admin, type Credentials } from '../support/broker.ts';
import type { TestBroker } from '../support/test-broker.ts';
import { discover, insecure } from '../support/token-exchange.ts';
import { type SignInBroker, startSignInBroker, type UpstreamIdp } from '../support/upstream-idp.ts';

const MCP = 'https://mcp.example.com/mcp';
const APP_REDIRECT = 'https://app.example.com/cb';
const LOOPBACK_REDIRECT = 'http://127.0.0.1:33418/callback';
// People in support may read and search for any client; exports wait for an approver; nothing else.
const POLICY = `
@id("support-reads") permit(principal, action in [Action::"read", Action::"search"], resource)
  when { context has on_behalf_of && context.on_behalf_of.groups.contains("support") };
@id("exports") permit(principal, action == Action::"export", resource);
@id("export-needs-approval") @remedy("approval")
forbid(principal, action == Action::"export", resource) unless { context.approved };
`;

let idp: UpstreamIdp;
let broker: TestBroker;
let as: oauth.AuthorizationServer;
let resource: Credentials;
const app: oauth.Client = { client_id: 'claude-code', token_endpoint_auth_method: 'none' };

let setup: SignInBroker;

beforeAll(async () => {
  setup = await startSignInBroker({
    name: 'authz-code',
    policy: POLICY,
    client: {
      client_id: app.client_id,
      name: 'Claude Code',
      redirect_uris: [APP_REDIRECT, LOOPBACK_REDIRECT],
    },
    resource: MCP,
    // A public client registered in mandate.yaml instead of through the admin API.
    extraConfig:
      'clients:\n  - { client_id: codex, name: Codex, kind: agent, token_endpoint_auth_method: none, redirect_uris: ["http://127.0.0.1/cb"] }\n',
  });
  ({ idp, broker, resource } = setup);
  expect(setup.registered.status, setup.registered.text).toBe(201);
  expect(setup.registered.body.client_secret).toBeUndefined();
  as = await discover(broker.issuer);
}, 60_000);

afterAll(async () => {
  await setup?.close();
});

interface Flow {
  readonly url: string;
  readonly verifier: string;
  readonly state: string;
  readonly redirectUri: string;
}

/** An authorization request as an MCP client builds it; `set` overrides (undefined removes) parameters. */
async function authorizeRequest(set: Record<string, string | undefined> = {}): Promise<Flow> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: app.client_id,
    redirect_uri: APP_REDIRECT,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    resource: MCP,
    scope: 'tools:read search export delete',
    ...set,
  };
  const url = new URL(as.authorization_endpoint as string);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return { url: url.href, verifier, state, redirectUri: params.redirect_uri as string };
}

/** Signs in as `login`, approves, and returns the callback parameters (iss and state checked by oauth4webapi). */
async function approvedCode(flow: Flow, login = 'alice'): Promise<URLSearchParams> {
  const jar = new CookieJar();
  const consent = await signInUpstream(jar, flow.url, login);
  const res = await answerConsent(jar, consent, 'approve');
  expect(res.status).toBe(303);
  return oauth.validateAuthResponse(
    as,
    app,
    new URL(res.headers.get('location') ?? ''),
    flow.state,
  );
}

/** The consent page as POLICY decides for alice (read and search granted, delete refused, export to an approver), approved. */
async function approvedAsDecided(
  jar: CookieJar,
  consent: ConsentStep,
  flow: Flow,
): Promise<URLSearchParams> {
  const [granted = '', rest = ''] = consent.html.split('Refused by policy');
  expect(granted).toContain('<strong>read</strong>');
  expect(granted).toContain('<strong>search</strong>');
  const [refused = '', approval = ''] = rest.split('Needs an approver');
  expect(refused).toContain('<strong>delete</strong>');
  expect(approval).toContain('<strong>export</strong>');
  const res = await answerConsent(jar, consent, 'approve');
  return oauth.validateAuthResponse(
    as,
    app,
    new URL(res.headers.get('location') ?? ''),
    flow.state,
  );
}

function redeem(
  flow: Flow,
  params: URLSearchParams,
  verifier = flow.verifier,
  redirectUri = flow.redirectUri,
  resourceUri = MCP,
) {
  return oauth.authorizationCodeGrantRequest(as, app, oauth.None(), params, redirectUri, verifier, {
    ...insecure,
    additionalParameters: { resource: resourceUri },
  });
}

/** The token response for an approved code (oauth4webapi checks it). */
async function tokensFor(flow: Flow, params: URLSearchParams) {
  return oauth.processAuthorizationCodeResponse(as, app, await redeem(flow, params));
}

/** Every grant the public client holds or held: bad input must not add one. */
async function grantCount(): Promise<number> {
  const res = await admin<{ grants: unknown[] }>(
    broker.url,
    'GET',
    `/admin/grants?client_id=${app.client_id}`,
  );
  expect(res.status).toBe(200);
  return res.body.grants.length;
}

async function expectOAuthError(res: Response, code: string): Promise<void> {
  const body = (await res.json()) as { error?: string };
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(body.error).toBe(code);
}

/** Introspects as `caller` (by default the resource client serving MCP). */
async function introspect(token: string, caller: Credentials = resource) {
  const res = await oauth.introspectionRequest(
    as,
    { client_id: caller.client_id },
    oauth.ClientSecretBasic(caller.client_secret),
    token,
    insecure,
  );
  return oauth.processIntrospectionResponse(as, { client_id: caller.client_id }, res);
}

/** Follows the client's redirect target without fetching it: the error parameters and iss. */
function errorRedirect(res: Response, flow: Flow) {
  expect(res.status).toBe(303);
  const to = new URL(res.headers.get('location') ?? '');
  expect(`${to.origin}${to.pathname}`).toBe(flow.redirectUri);
  expect(to.searchParams.get('state')).toBe(flow.state);
  expect(to.searchParams.get('iss')).toBe(broker.issuer);
  return to.searchParams;
}

describe('authorization server metadata', () => {
  it('advertises the code flow, PKCE S256, RFC 9207 and public clients, also at the OpenID path', async () => {
    expect(as.authorization_endpoint).toBe(`${broker.issuer}/oauth/authorize`);
    expect(as.response_types_supported).toEqual(['code']);
    expect(as.code_challenge_methods_supported).toEqual(['S256']);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    expect(as.grant_types_supported).toContain('authorization_code');
    expect(as.token_endpoint_auth_methods_supported).toContain('none');
    const oidc = (await (
      await fetch(`${broker.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(oidc.authorization_endpoint).toBe(as.authorization_endpoint);
    expect(oidc.client_id_metadata_document_supported).toBe(true);
  });
});

describe('a person signs in and approves', () => {
  it('shows what policy decided, issues a code with iss, and a grant for the person', async () => {
    const flow = await authorizeRequest();
    const jar = new CookieJar();
    const consent: ConsentStep = await signInUpstream(jar, flow.url, 'alice');
    expect(consent.html).toContain('Claude Code');
    expect(consent.html).toContain('app.example.com');
    expect(consent.html).toContain('Alice Example');
    const params = await approvedAsDecided(jar, consent, flow);
    const tokens = await tokensFor(flow, params);
    expect(tokens.refresh_token).toBeTruthy();
    const seen = await introspect(tokens.access_token);
    expect(seen.active).toBe(true);
    expect(seen.sub).toBe(`${idp.issuer}|alice`);
    expect(seen.client_id).toBe(app.client_id);
    expect(seen.act).toEqual({ sub: app.client_id });
    expect([seen.aud].flat()).toContain(MCP);
    const details = seen.authorization_details as Array<{ actions: string[] }>;
    expect(details.flatMap((d) => d.actions).sort()).toEqual(['read', 'search']);
    // A normal grant: recorded with the person it acts for.
    const grant = await admin<{
      decisions?: Array<{ kind: string; inputs: Record<string, unknown> }>;
    }>(broker.url, 'GET', `/admin/grants/${seen.grant_id as string}`);
    expect(grant.status).toBe(200);
    expect(grant.text).toContain('authorization_code');
    expect(grant.text).toContain('"on_behalf_of"');
  });

  it('without scope, asks for the tools registered for the resource, each decided by policy', async () => {
    const TOOLS = 'https://tools.example.com/mcp';
    const server = await broker.client({
      name: 'tools MCP',
      kind: 'resource',
      resources: [TOOLS],
      actions: ['read', 'search', 'export', 'delete'],
    });
    const flow = await authorizeRequest({ scope: undefined, resource: TOOLS });
    const jar = new CookieJar();
    const consent = await signInUpstream(jar, flow.url, 'alice');
    const params = await approvedAsDecided(jar, consent, flow);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      app,
      await redeem(flow, params, flow.verifier, flow.redirectUri, TOOLS),
    );
    const seen = await introspect(tokens.access_token, server);
    expect(seen.active).toBe(true);
    expect([seen.aud].flat()).toEqual([TOOLS]);
    const details = seen.authorization_details as Array<{ actions: string[]; locations: string[] }>;
    expect(details.flatMap((d) => d.actions).sort()).toEqual(['read', 'search']);
    expect(new Set(details.flatMap((d) => d.locations))).toEqual(new Set([TOOLS]));
  });

  it('a public client from mandate.yaml signs people in too', async () => {
    const flow = await authorizeRequest({
      client_id: 'codex',
      redirect_uri: 'http://127.0.0.1:40001/cb',
    });
    const jar = new CookieJar();
    const consent = await signInUpstream(jar, flow.url);
    expect(consent.html).toContain('Codex');
  });

  it('a loopback redirect may use any port (RFC 8252 7.3)', async () => {
    const flow = await authorizeRequest({ redirect_uri: 'http://127.0.0.1:51234/callback' });
    const params = await approvedCode(flow);
    const tokens = await tokensFor(flow, params);
    expect((await introspect(tokens.access_token)).active).toBe(true);
  });

  it('a resource sent with an upper-case host and a trailing slash is the same resource (canonical form)', async () => {
    const sent = `${MCP.replace('https://', 'HTTPS://').replace('.example.', '.EXAMPLE.')}/`;
    const flow = await authorizeRequest({ resource: sent });
    const params = await approvedCode(flow);
    const tokens = await tokensFor(flow, params);
    const seen = await introspect(tokens.access_token);
    expect(seen.active).toBe(true);
    expect([seen.aud].flat()).toContain(MCP);
  });

  it('a public client rotates its refresh token; a replayed one ends the grant', async () => {
    const flow = await authorizeRequest();
    const first = await oauth.processAuthorizationCodeResponse(
      as,
      app,
      await redeem(flow, await approvedCode(flow)),
    );
    const rt1 = first.refresh_token as string;
    const second = await oauth.processRefreshTokenResponse(
      as,
      app,
      await oauth.refreshTokenGrantRequest(as, app, oauth.None(), rt1, insecure),
    );
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(rt1);
    expect((await introspect(second.access_token)).sub).toBe(`${idp.issuer}|alice`);
    await expectOAuthError(
      await oauth.refreshTokenGrantRequest(as, app, oauth.None(), rt1, insecure),
      'invalid_grant',
    );
    expect((await introspect(second.access_token)).active).toBe(false);
  });

  it('a public client revokes its refresh token (RFC 7009), which ends the grant', async () => {
    const flow = await authorizeRequest();
    const tokens = await tokensFor(flow, await approvedCode(flow));
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(
        as,
        app,
        oauth.None(),
        tokens.refresh_token as string,
        insecure,
      ),
    );
    expect((await introspect(tokens.access_token)).active).toBe(false);
  });

  it('denying sends access_denied with state and iss', async () => {
    const flow = await authorizeRequest();
    const jar = new CookieJar();
    const consent = await signInUpstream(jar, flow.url);
    expect(errorRedirect(await answerConsent(jar, consent, 'deny'), flow).get('error')).toBe(
      'access_denied',
    );
    const records = await admin<{ decisions: Array<{ reasons: string[] }> }>(
      broker.url,
      'GET',
      `/admin/decisions?client_id=${app.client_id}&limit=5`,
    );
    expect(records.text).toContain('person_denied');
  });

  it('a person policy grants nothing gets no Allow button and a denial', async () => {
    const flow = await authorizeRequest({ scope: 'read' });
    const jar = new CookieJar();
    const consent = await signInUpstream(jar, flow.url, 'bob');
    expect(consent.html).not.toContain('value="approve"');
    const res = await answerConsent(jar, consent, 'approve');
    expect(errorRedirect(res, flow).get('error')).toBe('access_denied');
  });
});

describe('codes', () => {
  it('a reused code is invalid_grant and revokes what its first use issued', async () => {
    const flow = await authorizeRequest();
    const params = await approvedCode(flow);
    const tokens = await tokensFor(flow, params);
    expect((await introspect(tokens.access_token)).active).toBe(true);
    await expectOAuthError(await redeem(flow, params), 'invalid_grant');
    expect((await introspect(tokens.access_token)).active).toBe(false);
    await expectOAuthError(
      await oauth.refreshTokenGrantRequest(
        as,
        app,
        oauth.None(),
        tokens.refresh_token as string,
        insecure,
      ),
      'invalid_grant',
    );
  });

  it('a wrong code, a wrong verifier, another redirect_uri or a foreign resource: invalid_grant, nothing issued', async () => {
    const before = await grantCount();
    const flow = await authorizeRequest();
    const params = await approvedCode(flow);
    const wrong = await oauth.genericTokenEndpointRequest(
      as,
      app,
      oauth.None(),
      'authorization_code',
      {
        code: 'not-a-code-0123456789abcdefghijklmnopqrstu',
        redirect_uri: flow.redirectUri,
        code_verifier: flow.verifier,
        resource: MCP,
      },
      insecure,
    );
    await expectOAuthError(wrong, 'invalid_grant');
    await expectOAuthError(
      await redeem(flow, params, oauth.generateRandomCodeVerifier()),
      'invalid_grant',
    );
    await expectOAuthError(
      await redeem(flow, params, flow.verifier, `${APP_REDIRECT}x`),
      'invalid_grant',
    );
    await expectOAuthError(
      await redeem(flow, params, flow.verifier, flow.redirectUri, 'https://elsewhere.example.com'),
      'invalid_target',
    );
    expect(await grantCount()).toBe(before);
    // None of them spent the code: its client, with its verifier, still redeems it.
    const tokens = await tokensFor(flow, params);
    expect((await introspect(tokens.access_token)).active).toBe(true);
    expect(await grantCount()).toBe(before + 1);
  });

  it('another client presenting a code neither spends it nor, after its use, revokes what it issued', async () => {
    const codex: oauth.Client = { client_id: 'codex', token_endpoint_auth_method: 'none' };
    const byCodex = (flow: Flow, params: URLSearchParams) =>
      oauth.authorizationCodeGrantRequest(
        as,
        codex,
        oauth.None(),
        params,
        flow.redirectUri,
        flow.verifier,
        { ...insecure, additionalParameters: { resource: MCP } },
      );
    const flow = await authorizeRequest();
    const params = await approvedCode(flow);
    await expectOAuthError(await byCodex(flow, params), 'invalid_grant');
    const tokens = await tokensFor(flow, params);
    expect((await introspect(tokens.access_token)).active).toBe(true);
    // Presented by another client after its use: refused, and no replay of the rightful client's.
    await expectOAuthError(await byCodex(flow, params), 'invalid_grant');
    expect((await introspect(tokens.access_token)).active).toBe(true);
    // Presented again by its own client: a replay, which ends the grant.
    await expectOAuthError(await redeem(flow, params), 'invalid_grant');
    expect((await introspect(tokens.access_token)).active).toBe(false);
  });

  it('two redemptions racing: at most one answer carries tokens, and whatever was issued ends', async () => {
    const before = await grantCount();
    const flow = await authorizeRequest();
    const params = await approvedCode(flow);
    const answers = await Promise.all([redeem(flow, params), redeem(flow, params)]);
    const bodies = await Promise.all(
      answers.map(async (res) => ({
        status: res.status,
        body: (await res.json()) as { access_token?: string; error?: string },
      })),
    );
    const issued = bodies.filter((b) => b.status === 200);
    expect(issued.length).toBeLessThanOrEqual(1);
    for (const b of bodies.filter((x) => x.status !== 200))
      expect(b.body.error).toBe('invalid_grant');
    for (const b of issued)
      expect((await introspect(b.body.access_token as string)).active).toBe(false);
    // The grant was created (the first use went through) and then revoked as replayed.
    expect(await grantCount()).toBe(before + 1);
  });

  it('a public client cannot use client_credentials', async () => {
    const res = await fetch(`${broker.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.client_id,
        scope: 'read',
        resource: MCP,
      }),
    });
    await expectOAuthError(res, 'invalid_client');
  });
});

describe('bad authorization requests', () => {
  const jar = new CookieJar();
  const noRedirect = async (url: string) => {
    const res = await browse(jar, url);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    return res.text();
  };

  it('a redirect_uri differing by one character is shown, never redirected', async () => {
    const flow = await authorizeRequest({ redirect_uri: 'https://app.example.com/cc' });
    expect(await noRedirect(flow.url)).toContain('invalid_request');
  });

  it('an unknown client is shown, never redirected', async () => {
    const flow = await authorizeRequest({ client_id: 'nobody' });
    expect(await noRedirect(flow.url)).toContain('invalid_client');
  });

  it('an https client_id without metadata document support is invalid_client', async () => {
    const flow = await authorizeRequest({ client_id: 'https://app.example.com/client.json' });
    expect(await noRedirect(flow.url)).toContain('invalid_client');
  });

  it.each([
    [
      'missing PKCE',
      { code_challenge: undefined, code_challenge_method: undefined },
      'invalid_request',
    ],
    ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['missing resource', { resource: undefined }, 'invalid_target'],
    ['another response_type', { response_type: 'token' }, 'unsupported_response_type'],
    ['no scope, and no tool registered for the resource', { scope: undefined }, 'invalid_scope'],
  ] as const)('%s goes back to the client as %s', async (_name, set, code) => {
    const flow = await authorizeRequest(set);
    const res = await browse(new CookieJar(), flow.url);
    expect(errorRedirect(res, flow).get('error')).toBe(code);
    expect(res.headers.getSetCookie().join()).not.toContain('mandate_authz');
  });

  it('the consent form without its CSRF token is refused and issues nothing; the real form still works', async () => {
    const flow = await authorizeRequest();
    const jar2 = new CookieJar();
    const consent = await signInUpstream(jar2, flow.url);
    const before = await grantCount();
    const missing = await answerConsent(jar2, consent, 'approve', { decision: 'approve' });
    expect(missing.status).toBe(403);
    expect(missing.headers.get('location')).toBeNull();
    const wrong = await answerConsent(jar2, consent, 'approve', {
      csrf: 'x'.repeat(43),
      decision: 'approve',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get('location')).toBeNull();
    // Another browser (no cookie) with the right token gets nothing either.
    const stranger = await answerConsent(new CookieJar(), consent, 'approve');
    expect(stranger.headers.get('location')).toBeNull();
    expect(await grantCount()).toBe(before);
    const ok = await answerConsent(jar2, consent, 'approve');
    expect(ok.status).toBe(303);
    expect(new URL(ok.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy();
  });
});

describe('a code grant is a normal grant', () => {
  it('re-evaluated with the person it acts for: a policy change about their groups ends it at the next signal', async () => {
    const flow = await authorizeRequest({ scope: 'read' });
    const tokens = await tokensFor(flow, await approvedCode(flow));
    const grantId = (await introspect(tokens.access_token)).grant_id as string;
    // The same permit, now for finance only: alice (support) no longer qualifies.
    const financeOnly = POLICY.replace('contains("support")', 'contains("finance")');
    expect(
      (await admin(broker.url, 'PUT', '/admin/policies', { policies: financeOnly })).status,
    ).toBe(200);
    try {
      const signal = await admin(broker.url, 'POST', '/v1/signals', {
        grant_id: grantId,
        type: 'context_changed',
      });
      expect(signal.status, signal.text).toBe(202);
      expect((await introspect(tokens.access_token)).active).toBe(false);
    } finally {
      expect((await admin(broker.url, 'PUT', '/admin/policies', { policies: POLICY })).status).toBe(
        200,
      );
    }
  });
});
