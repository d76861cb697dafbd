// The official MCP SDK's OAuth client (its `auth()`, unchanged) against Mandate as the authorization server: discovery, PKCE, the code grant with `resource`, refresh.
import { createServer, type Server } from 'node:http';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerConsent, CookieJar, signInUpstream } from '../support/authorization-flow.ts';
import { introspect } from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { type SignInBroker, startSignInBroker } from '../support/upstream-idp.ts';

const POLICY = `
@id("support-reads") permit(principal, action == Action::"read", resource)
  when { context has on_behalf_of && context.on_behalf_of.groups.contains("support") };
`;
const CLIENT_ID = 'mcp-sdk-app';
const REDIRECT = 'http://127.0.0.1:38111/callback';

let setup: SignInBroker;
let mcpUrl: string;
let prm: Server;

beforeAll(async () => {
  // Only the MCP server's RFC 9728 metadata is needed to point the SDK at Mandate.
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  setup = await startSignInBroker({
    name: 'authz-mcp-sdk',
    policy: POLICY,
    client: { client_id: CLIENT_ID, name: 'SDK App', redirect_uris: ['http://127.0.0.1/callback'] },
    resource: mcpUrl,
  });
  prm = createServer((req, res) => {
    if (req.url !== '/.well-known/oauth-protected-resource/mcp') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        resource: mcpUrl,
        authorization_servers: [setup.broker.issuer],
        scopes_supported: ['tools:read'],
      }),
    );
  });
  await new Promise<void>((resolve) => prm.listen(port, '127.0.0.1', resolve));
}, 60_000);

afterAll(async () => {
  prm?.closeAllConnections();
  prm?.close();
  await setup?.close();
});

/** The smallest OAuthClientProvider a desktop MCP client would write: pre-registered, in memory. */
class MemoryProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK App',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: CLIENT_ID };
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

describe('the MCP SDK as the client', () => {
  it('discovers Mandate, sends the person to sign in, redeems the code and refreshes', async () => {
    const provider = new MemoryProvider();
    expect(await auth(provider, { serverUrl: mcpUrl })).toBe('REDIRECT');
    const url = provider.authorizationUrl as URL;
    expect(url.origin + url.pathname).toBe(`${setup.broker.issuer}/oauth/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(mcpUrl);

    const jar = new CookieJar();
    const consent = await signInUpstream(jar, url.href, 'alice');
    const back = new URL(
      (await answerConsent(jar, consent, 'approve')).headers.get('location') ?? '',
    );
    expect(back.searchParams.get('iss')).toBe(setup.broker.issuer);
    const code = back.searchParams.get('code') as string;
    expect(await auth(provider, { serverUrl: mcpUrl, authorizationCode: code })).toBe('AUTHORIZED');

    const first = provider.saved as OAuthTokens;
    const seen = await introspect(setup.broker.url, setup.resource, first.access_token);
    expect(seen.body.active).toBe(true);
    expect(seen.body.sub).toBe(`${setup.idp.issuer}|alice`);
    expect(seen.body.aud).toEqual(mcpUrl);

    // The SDK refreshes with the rotating refresh token when asked to authorize again.
    expect(await auth(provider, { serverUrl: mcpUrl })).toBe('AUTHORIZED');
    const second = provider.saved as OAuthTokens;
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(
      (await introspect(setup.broker.url, setup.resource, second.access_token)).body.active,
    ).toBe(true);
  });
});
