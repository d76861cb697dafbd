// The whole OAuth flow through oauth4webapi over a socket, tokens verified offline with jose as a resource server would.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRM, type Credentials, createClients, task } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('OAuth flow with oauth4webapi and jose', () => {
  let broker: TestBroker;
  let as: oauth.AuthorizationServer;
  let agent: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url, { groups: ['writers'] }));
    const issuer = new URL(broker.issuer);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });

  afterAll(async () => {
    await broker?.close();
  });

  const asClient = (c: Credentials): oauth.Client => ({ client_id: c.client_id });

  async function clientCredentials(auth: 'basic' | 'post', details: unknown[]) {
    const clientAuth =
      auth === 'basic'
        ? oauth.ClientSecretBasic(agent.client_secret)
        : oauth.ClientSecretPost(agent.client_secret);
    const res = await oauth.clientCredentialsGrantRequest(
      as,
      asClient(agent),
      clientAuth,
      { authorization_details: JSON.stringify(details) },
      insecure,
    );
    return oauth.processClientCredentialsResponse(as, asClient(agent), res);
  }

  const introspectAs = async (token: string) =>
    oauth.processIntrospectionResponse(
      as,
      asClient(resource),
      await oauth.introspectionRequest(
        as,
        asClient(resource),
        oauth.ClientSecretBasic(resource.client_secret),
        token,
        insecure,
      ),
    );

  it('publishes RFC 8414 metadata with the contract fields', () => {
    expect(as.issuer).toBe(broker.url);
    expect(as.token_endpoint).toBe(`${broker.url}/oauth/token`);
    expect(as.introspection_endpoint).toBe(`${broker.url}/oauth/introspect`);
    expect(as.revocation_endpoint).toBe(`${broker.url}/oauth/revoke`);
    expect(as.jwks_uri).toBe(`${broker.url}/.well-known/jwks.json`);
    expect(as.grant_types_supported).toEqual(
      expect.arrayContaining(['client_credentials', 'refresh_token']),
    );
    for (const field of [
      'token_endpoint_auth_methods_supported',
      'introspection_endpoint_auth_methods_supported',
      'revocation_endpoint_auth_methods_supported',
    ] as const) {
      expect(as[field]).toEqual(
        expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
      );
    }
    expect(as.authorization_details_types_supported).toContain('agent_task');
  });

  it('serves public keys only in the JWKS', async () => {
    const jwks = (await (await fetch(as.jwks_uri as string)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) {
      expect(typeof k.kid).toBe('string');
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(priv);
    }
  });

  for (const auth of ['basic', 'post'] as const) {
    it(`issues a token with authorization_details (client_secret_${auth}) that a resource server verifies offline`, async () => {
      const details = [task(['read'], { taskId: `T-flow-${auth}` })];
      const tr = await clientCredentials(auth, details);
      expect(tr.token_type).toBe('bearer');
      expect(tr.expires_in).toBe(300);
      expect(typeof tr.refresh_token).toBe('string');
      expect(typeof tr.grant_id).toBe('string');
      expect(tr.authorization_details).toEqual(details);

      const header = decodeProtectedHeader(tr.access_token);
      expect(header.typ).toBe('at+jwt');
      expect(header.alg).not.toMatch(/^(HS|none)/i);
      const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string));
      const { payload, protectedHeader } = await jwtVerify(tr.access_token, jwks, {
        issuer: as.issuer,
        audience: CRM,
        typ: 'at+jwt',
        algorithms: ['ES256', 'EdDSA', 'RS256'],
      });
      expect(typeof protectedHeader.kid).toBe('string');
      expect(payload.iss).toBe(broker.issuer);
      expect(payload.sub).toBe(agent.client_id);
      expect(payload.client_id).toBe(agent.client_id);
      expect(payload.aud).toBe(CRM);
      expect(payload.grant_id).toBe(tr.grant_id);
      expect(payload.authorization_details).toEqual(details);
      expect(typeof payload.jti).toBe('string');
      expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    });
  }

  it('refreshes through oauth4webapi: a new access token and a rotated refresh token', async () => {
    const first = await clientCredentials('basic', [
      task(['read', 'write'], { taskId: 'T-flow-refresh' }),
    ]);
    const res = await oauth.refreshTokenGrantRequest(
      as,
      asClient(agent),
      oauth.ClientSecretBasic(agent.client_secret),
      first.refresh_token as string,
      insecure,
    );
    const second = await oauth.processRefreshTokenResponse(as, asClient(agent), res);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).toBeTypeOf('string');
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.grant_id).toBe(first.grant_id);
    expect(second.authorization_details).toEqual(first.authorization_details);
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string));
    const { payload } = await jwtVerify(second.access_token, jwks, {
      issuer: as.issuer,
      audience: CRM,
      typ: 'at+jwt',
    });
    expect(payload.grant_id).toBe(first.grant_id);
  });

  it('introspects an active token with the contract fields', async () => {
    const details = [task(['read'], { taskId: 'T-flow-introspect' })];
    const tr = await clientCredentials('basic', details);
    const info = await introspectAs(tr.access_token);
    expect(info.active).toBe(true);
    expect(info.iss).toBe(broker.issuer);
    expect(info.sub).toBe(agent.client_id);
    expect(info.client_id).toBe(agent.client_id);
    expect(info.aud).toBe(CRM);
    expect(info.token_type).toBe('Bearer');
    expect(info.scope).toBe('read');
    expect(info.grant_id).toBe(tr.grant_id);
    expect(info.authorization_details).toEqual(details);
    expect(typeof info.jti).toBe('string');
    expect((info.exp as number) - (info.iat as number)).toBe(300);
  });

  it('revoking the refresh token ends the grant: its access token turns inactive and it cannot refresh', async () => {
    const tr = await clientCredentials('post', [task(['read'], { taskId: 'T-flow-revoke-rt' })]);
    expect((await introspectAs(tr.access_token)).active).toBe(true);
    const res = await oauth.revocationRequest(
      as,
      asClient(agent),
      oauth.ClientSecretPost(agent.client_secret),
      tr.refresh_token as string,
      insecure,
    );
    await oauth.processRevocationResponse(res);
    expect((await introspectAs(tr.access_token)).active).toBe(false);
    const again = await oauth.refreshTokenGrantRequest(
      as,
      asClient(agent),
      oauth.ClientSecretBasic(agent.client_secret),
      tr.refresh_token as string,
      insecure,
    );
    await expect(
      oauth.processRefreshTokenResponse(as, asClient(agent), again),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('revoking the access token ends only that token', async () => {
    const tr = await clientCredentials('basic', [task(['read'], { taskId: 'T-flow-revoke-at' })]);
    const res = await oauth.revocationRequest(
      as,
      asClient(agent),
      oauth.ClientSecretBasic(agent.client_secret),
      tr.access_token,
      {
        ...insecure,
        additionalParameters: { token_type_hint: 'access_token' },
      },
    );
    await oauth.processRevocationResponse(res);
    expect((await introspectAs(tr.access_token)).active).toBe(false);
    // The grant lives on: a refresh gives a new, active token.
    const next = await oauth.processRefreshTokenResponse(
      as,
      asClient(agent),
      await oauth.refreshTokenGrantRequest(
        as,
        asClient(agent),
        oauth.ClientSecretBasic(agent.client_secret),
        tr.refresh_token as string,
        insecure,
      ),
    );
    expect((await introspectAs(next.access_token)).active).toBe(true);
  });

  it('answers 200 to the revocation of an unknown token', async () => {
    const res = await oauth.revocationRequest(
      as,
      asClient(agent),
      oauth.ClientSecretBasic(agent.client_secret),
      'not-a-token-we-issued',
      insecure,
    );
    expect(res.status).toBe(200);
    await oauth.processRevocationResponse(res);
  });
});
