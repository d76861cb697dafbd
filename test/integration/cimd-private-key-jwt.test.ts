// A Client ID Metadata Document client authenticating with private_key_jwt: its document (inline jwks, or a jwks_uri) served over real HTTPS by a private CA, a person's code and the refresh redeemed with oauth4webapi's real assertions.
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { exportJWK, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerConsent, CookieJar, signInUpstream } from '../support/authorization-flow.ts';
import type { Credentials } from '../support/broker.ts';
import type { TestBroker } from '../support/test-broker.ts';
import {
  makeTestCertificates,
  startTlsTestServer,
  type TlsTestServer,
} from '../support/tls-test-server.ts';
import { discover, insecure } from '../support/token-exchange.ts';
import { type SignInBroker, startSignInBroker } from '../support/upstream-idp.ts';

const MCP = 'https://mcp.example.com/mcp';
const REDIRECT = 'http://127.0.0.1/callback';
const POLICY = `
@id("support-reads") permit(principal, action in [Action::"read", Action::"search"], resource)
  when { context has on_behalf_of && context.on_behalf_of.groups.contains("support") };
`;

const defaultCas = getCACertificates('default');
let setup: SignInBroker;
let broker: TestBroker;
let resource: Credentials;
let documents: TlsTestServer;
let as: oauth.AuthorizationServer;
let keys: Awaited<ReturnType<typeof oauth.generateKeyPair>>;
let publicJwk: JWK;
/** Every path the document server was asked for. */
const requested: string[] = [];
/** While set, the document server answers /flaky.json with 503 (its host is having trouble). */
let flakyDown = false;

const urlOf = (path: string) => `https://127.0.0.1:${documents.port}${path}`;

beforeAll(async () => {
  keys = await oauth.generateKeyPair('ES256', { extractable: true });
  publicJwk = await exportJWK(keys.publicKey);
  const certs = makeTestCertificates(['127.0.0.1']);
  // The self-signed CA, passed to Node: Mandate's fetches of the document and its jwks_uri trust it.
  setDefaultCACertificates([...defaultCas, certs.ca]);
  documents = await startTlsTestServer(certs, (req, res) => {
    const self = urlOf(req.url ?? '/');
    requested.push(req.url ?? '');
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify(body));
    };
    const doc = (keyMembers: Record<string, unknown>) =>
      json({
        client_id: self,
        client_name: 'Keyed MCP client',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'private_key_jwt',
        ...keyMembers,
      });
    if (req.url === '/flaky.json') {
      if (flakyDown) return res.writeHead(503).end();
      // Fetched again on every use, so the outage below is seen at once.
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(
        JSON.stringify({
          client_id: self,
          client_name: 'Keyed MCP client',
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [{ ...publicJwk, use: 'sig' }] },
        }),
      );
    }
    if (req.url === '/inline.json' || req.url === '/never-signed-in.json')
      return doc({ jwks: { keys: [{ ...publicJwk, use: 'sig' }] } });
    if (req.url === '/by-uri.json') return doc({ jwks_uri: urlOf('/jwks.json') });
    if (req.url === '/jwks.json') return json({ keys: [{ ...publicJwk, use: 'sig' }] });
    res.writeHead(404).end();
  });
  setup = await startSignInBroker({
    name: 'cimd-pkjwt',
    policy: POLICY,
    client: { client_id: 'unused-public', name: 'Unused', redirect_uris: [REDIRECT] },
    resource: MCP,
    extraConfig: 'mcp:\n  cimd_allow_private: true\n',
  });
  ({ broker, resource } = setup);
  as = await discover(broker.issuer);
}, 60_000);

afterAll(async () => {
  await setup?.close();
  await documents?.close();
  setDefaultCACertificates(defaultCas);
});

/** Signs alice in for `client`, approves, and returns the callback parameters and the PKCE verifier. */
async function approvedCode(client: oauth.Client) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint as string);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: `http://127.0.0.1:${40_000 + Math.floor(Math.random() * 1000)}/callback`,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    resource: MCP,
    scope: 'read search',
  }))
    url.searchParams.set(k, v);
  const jar = new CookieJar();
  const consent = await signInUpstream(jar, url.href, 'alice');
  expect(consent.html).toContain('Keyed MCP client');
  const res = await answerConsent(jar, consent, 'approve');
  expect(res.status).toBe(303);
  const params = oauth.validateAuthResponse(
    as,
    client,
    new URL(res.headers.get('location') ?? ''),
    state,
  );
  return { params, verifier, redirectUri: url.searchParams.get('redirect_uri') as string };
}

async function expectOAuthError(res: Response, status: number, code: string): Promise<void> {
  const body = (await res.json()) as { error?: string };
  expect(res.status).toBe(status);
  expect(body.error).toBe(code);
}

async function introspect(token: string) {
  const res = await oauth.introspectionRequest(
    as,
    { client_id: resource.client_id },
    oauth.ClientSecretBasic(resource.client_secret),
    token,
    insecure,
  );
  return oauth.processIntrospectionResponse(as, { client_id: resource.client_id }, res);
}

describe.each([
  ['inline jwks', '/inline.json'],
  ['a jwks_uri', '/by-uri.json'],
] as const)('a metadata document client with %s', (_name, path) => {
  it('redeems its code and refreshes with private_key_jwt assertions', async () => {
    const client: oauth.Client = { client_id: urlOf(path) };
    const code = await approvedCode(client);
    const auth = oauth.PrivateKeyJwt(keys.privateKey);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        code.params,
        code.redirectUri,
        code.verifier,
        { ...insecure, additionalParameters: { resource: MCP } },
      ),
    );
    const seen = await introspect(tokens.access_token);
    expect(seen.active).toBe(true);
    expect(seen.client_id).toBe(client.client_id);
    expect([seen.aud].flat()).toContain(MCP);

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(
        as,
        client,
        auth,
        tokens.refresh_token as string,
        insecure,
      ),
    );
    expect((await introspect(refreshed.access_token)).active).toBe(true);
  });

  it('refuses an assertion signed by another key (invalid_client), leaving the code to the right one', async () => {
    const client: oauth.Client = { client_id: urlOf(path) };
    const code = await approvedCode(client);
    const other = await oauth.generateKeyPair('ES256');
    const redeemWith = (key: CryptoKey) =>
      oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.PrivateKeyJwt(key),
        code.params,
        code.redirectUri,
        code.verifier,
        { ...insecure, additionalParameters: { resource: MCP } },
      );
    await expectOAuthError(await redeemWith(other.privateKey), 401, 'invalid_client');
    // Named as a public client it has no business being: no key, no token.
    await expectOAuthError(
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.None(),
        code.params,
        code.redirectUri,
        code.verifier,
        { ...insecure, additionalParameters: { resource: MCP } },
      ),
      401,
      'invalid_client',
    );
    const res = await redeemWith(keys.privateKey);
    expect(res.status).toBe(200);
  });
});

/** A client_credentials request signed with the document's key. */
const clientCredentials = (path: string) =>
  oauth.clientCredentialsGrantRequest(
    as,
    { client_id: urlOf(path) },
    oauth.PrivateKeyJwt(keys.privateKey),
    { scope: 'read', resource: MCP },
    insecure,
  );

describe('when the document cannot be had', () => {
  it('its host answering 5xx is temporarily_unavailable (try again), not a bad credential; the code still redeems after', async () => {
    const client: oauth.Client = { client_id: urlOf('/flaky.json') };
    const code = await approvedCode(client);
    const redeem = () =>
      oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.PrivateKeyJwt(keys.privateKey),
        code.params,
        code.redirectUri,
        code.verifier,
        { ...insecure, additionalParameters: { resource: MCP } },
      );
    flakyDown = true;
    try {
      await expectOAuthError(await redeem(), 503, 'temporarily_unavailable');
    } finally {
      flakyDown = false;
    }
    expect((await redeem()).status).toBe(200);
  });
});

describe('what such a client may not do', () => {
  it('client_credentials is unauthorized_client, also with a valid assertion', async () => {
    await approvedCode({ client_id: urlOf('/inline.json') }); // its record exists
    await expectOAuthError(await clientCredentials('/inline.json'), 400, 'unauthorized_client');
  });

  it('a document nobody signed in for is unknown: its URL is not fetched on an assertion alone', async () => {
    await expectOAuthError(await clientCredentials('/never-signed-in.json'), 401, 'invalid_client');
    expect(requested).not.toContain('/never-signed-in.json');
  });
});
