// private_key_jwt (RFC 7523 2.2) over sockets with oauth4webapi and the MCP SDK's provider: token, refresh, introspection, revocation, caller tokens.
import { fetchToken } from '@modelcontextprotocol/sdk/client/auth.js';
import { PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, CRM, oauthPost, task } from '../support/broker.ts';
import { clientAssertion, type LocalIssuer, startLocalIssuer } from '../support/local-issuer.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
/** An MCP server's resource identifier (a path, so the SDK's URL form adds no slash). */
const MCP = 'https://mcp.example.com/mcp';

describe('private_key_jwt with real OAuth clients', () => {
  let broker: TestBroker;
  let as: oauth.AuthorizationServer;
  let agentKey: LocalIssuer;
  let resourceKey: LocalIssuer;
  let agent: oauth.Client;
  let resource: oauth.Client;
  let agentAuth: oauth.ClientAuth;
  let resourceAuth: oauth.ClientAuth;
  let registered: Record<string, unknown>;

  beforeAll(async () => {
    broker = await startTestBroker({ config: 'federation: { allow_http_loopback: true }\n' });
    agentKey = await startLocalIssuer({ alg: 'ES256' });
    resourceKey = await startLocalIssuer({ alg: 'EdDSA' });
    const created = await admin(broker.url, 'POST', '/admin/clients', {
      name: 'keyed agent',
      kind: 'agent',
      groups: ['writers'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [agentKey.publicJwk] },
    });
    expect(created.status).toBe(201);
    registered = created.body;
    agent = { client_id: (created.body.client as { client_id: string }).client_id };
    const res = await admin(broker.url, 'POST', '/admin/clients', {
      name: 'keyed resource',
      kind: 'resource',
      resources: [CRM, MCP],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: resourceKey.jwksUri,
    });
    expect(res.status).toBe(201);
    resource = { client_id: (res.body.client as { client_id: string }).client_id };
    agentAuth = oauth.PrivateKeyJwt({ key: agentKey.privateKey, kid: agentKey.kid });
    resourceAuth = oauth.PrivateKeyJwt({ key: resourceKey.privateKey, kid: resourceKey.kid });
    const issuer = new URL(broker.issuer);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });

  afterAll(async () => {
    await broker?.close();
    await agentKey?.close();
    await resourceKey?.close();
  });

  it('registers a private_key_jwt client without any secret', () => {
    expect(registered.client_secret).toBeUndefined();
    expect(JSON.stringify(registered)).not.toContain('secret_hash');
  });

  it('lists private_key_jwt and the assertion algorithms in the metadata', () => {
    for (const field of [
      'token_endpoint_auth_methods_supported',
      'introspection_endpoint_auth_methods_supported',
      'revocation_endpoint_auth_methods_supported',
    ] as const)
      expect(as[field]).toContain('private_key_jwt');
    expect(as.token_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'EdDSA', 'PS256', 'RS256']),
    );
    expect(as.token_endpoint_auth_signing_alg_values_supported).not.toContain('HS256');
    expect(as.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  const agentToken = async () =>
    oauth.processClientCredentialsResponse(
      as,
      agent,
      await oauth.clientCredentialsGrantRequest(
        as,
        agent,
        agentAuth,
        { authorization_details: JSON.stringify([task(['read'])]) },
        insecure,
      ),
    );

  const introspect = async (token: string) =>
    oauth.processIntrospectionResponse(
      as,
      resource,
      await oauth.introspectionRequest(as, resource, resourceAuth, token, insecure),
    );

  it('runs client_credentials, refresh, introspection and revocation with private_key_jwt', async () => {
    const first = await agentToken();
    expect(first.token_type).toBe('bearer');
    expect(typeof first.refresh_token).toBe('string');
    // The resource authenticates with an EdDSA key fetched from its jwks_uri, once for both calls.
    expect((await introspect(first.access_token)).active).toBe(true);
    const second = await oauth.processRefreshTokenResponse(
      as,
      agent,
      await oauth.refreshTokenGrantRequest(
        as,
        agent,
        agentAuth,
        first.refresh_token as string,
        insecure,
      ),
    );
    expect((await introspect(second.access_token)).active).toBe(true);
    expect(resourceKey.fetches()).toBe(1);
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, agent, agentAuth, second.refresh_token as string, insecure),
    );
    expect((await introspect(second.access_token)).active).toBe(false);
  });

  it('refuses a private_key_jwt client presenting a secret, and a reused assertion', async () => {
    const basic = await oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: JSON.stringify([task(['read'])]) },
      { client_id: agent.client_id, client_secret: 'x'.repeat(43) },
    );
    expect(basic.status).toBe(401);
    expect(basic.body.error).toBe('invalid_client');
    const assertion = await clientAssertion(agentKey, agent.client_id, broker.issuer);
    const form = {
      grant_type: 'client_credentials',
      authorization_details: JSON.stringify([task(['read'])]),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    };
    expect((await oauthPost(broker.url, '/oauth/token', form, undefined, 'none')).status).toBe(200);
    const again = await oauthPost(broker.url, '/oauth/token', form, undefined, 'none');
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
  });

  it('gives a resource client a caller token for AuthZEN and signals (no secret needed)', async () => {
    const agentTokens = await agentToken();
    const caller = await oauth.processClientCredentialsResponse(
      as,
      resource,
      await oauth.clientCredentialsGrantRequest(
        as,
        resource,
        resourceAuth,
        { resource: broker.issuer },
        insecure,
      ),
    );
    expect(caller.scope).toBe('mandate:resource');
    expect(caller.refresh_token).toBeUndefined();
    const evaluate = (authorization: string) =>
      fetch(`${broker.url}/access/v1/evaluation`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: {
            type: 'agent',
            id: agent.client_id,
            properties: { token: agentTokens.access_token },
          },
          action: { name: 'read' },
          resource: { type: 'resource', id: CRM },
          context: { ip: '203.0.113.9' },
        }),
      });
    const ok = await evaluate(`Bearer ${caller.access_token}`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { decision: boolean }).decision).toBe(true);
    // An agent's access token is no caller token, and a caller token is no access token.
    expect((await evaluate(`Bearer ${agentTokens.access_token}`)).status).toBe(401);
    expect((await introspect(caller.access_token)).active).toBe(false);
    const signal = await fetch(`${broker.url}/v1/signals`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${caller.access_token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        type: 'ip_changed',
        client_id: agent.client_id,
        context: { ip: '198.51.100.7' },
      }),
    });
    expect(signal.status).toBe(202);
    // Disabling the resource client stops its caller token at once.
    expect(
      (await admin(broker.url, 'PATCH', `/admin/clients/${resource.client_id}`, { disabled: true }))
        .status,
    ).toBe(200);
    expect((await evaluate(`Bearer ${caller.access_token}`)).status).toBe(401);
    await admin(broker.url, 'PATCH', `/admin/clients/${resource.client_id}`, { disabled: false });
  });

  it("gets a token through the MCP SDK's PrivateKeyJwtProvider (no kid, typ JWT)", async () => {
    const provider = new PrivateKeyJwtProvider({
      clientId: agent.client_id,
      privateKey: agentKey.privateJwk as Record<string, unknown>,
      algorithm: 'ES256',
      scope: 'read',
      expectedIssuer: broker.url,
    });
    // The SDK's own discovery insists on an authorization_endpoint (a client_credentials-only
    // server has none), so the RFC 8414 document is read as is.
    const metadata = (await (
      await fetch(`${broker.url}/.well-known/oauth-authorization-server`)
    ).json()) as Parameters<typeof fetchToken>[2] extends infer O
      ? O extends { metadata?: infer M }
        ? M
        : never
      : never;
    const tokens = await fetchToken(provider, broker.url, { metadata, resource: new URL(MCP) });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect((await introspect(tokens.access_token)).active).toBe(true);
  });
});
