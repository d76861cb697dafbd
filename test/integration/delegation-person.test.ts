// RFC 8693 for a person and the ID-JAG grant over sockets: a local identity provider's tokens, policy on context.on_behalf_of, may_act, DPoP-bound exchanges, and the RFC errors for bad input (nothing stored).
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  CRM,
  type Credentials,
  type HttpResult,
  isActive,
  oauthPost,
  task,
} from '../support/broker.ts';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';
import { claimsOf, discover, EXCHANGE, insecure, TT } from '../support/token-exchange.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AUDIENCE = 'https://mandate.example.com';

// Anyone may read; exporting is for an agent acting for someone in finance.
const POLICY = `
@id("reads") permit(principal, action == Action::"read", resource);
@id("finance-exports-for-people") permit(principal, action == Action::"export", resource)
  when { context.delegated && context has on_behalf_of &&
         context.on_behalf_of.groups.contains("finance") };
`;

describe('acting for a person: token exchange and ID-JAG', () => {
  let broker: TestBroker;
  let idp: LocalIssuer;
  let stranger: LocalIssuer;
  let agent: Credentials;
  let other: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    idp = await startLocalIssuer();
    stranger = await startLocalIssuer();
    // An issuer of people's tokens: no subject_map (it authenticates no agent).
    const config = {
      federation: {
        allow_http_loopback: true,
        issuers: [{ id: 'idp', issuer: idp.issuer, jwks_uri: idp.jwksUri, audience: AUDIENCE }],
      },
    };
    broker = await startTestBroker({ config: `${JSON.stringify(config)}\n` });
    agent = await broker.client({ name: 'assistant', kind: 'agent' });
    other = await broker.client({ name: 'other', kind: 'agent' });
    resource = await broker.client({ name: 'crm', kind: 'resource', resources: [CRM] });
    expect((await admin(broker.url, 'PUT', '/admin/policies', { policies: POLICY })).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await broker?.close();
    await idp?.close();
    await stranger?.close();
  });

  const personToken = (claims: Record<string, unknown> = {}, issuer = idp) =>
    issuer.mint({ sub: 'alice', aud: AUDIENCE, groups: ['finance'], ...claims });
  const exchange = (
    params: Record<string, string>,
    as: Credentials = agent,
    headers: Record<string, string> = {},
  ) =>
    oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: EXCHANGE, ...params },
      as,
      'basic',
      headers,
    );
  const forPerson = async (subjectToken: string, actions: string[], as: Credentials = agent) =>
    exchange(
      {
        subject_token: subjectToken,
        subject_token_type: TT.jwt,
        authorization_details: JSON.stringify([task(actions, { locations: [CRM] })]),
      },
      as,
    );
  const evaluate = (token: string, subject: string, action: string) =>
    fetch(`${broker.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${resource.client_id}:${resource.client_secret}`).toString('base64')}`,
      },
      body: JSON.stringify({
        subject: { type: 'agent', id: subject, properties: { token } },
        action: { name: action },
        resource: { type: 'resource', id: CRM },
      }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const grantCount = async (clientId: string) =>
    (
      await admin<{ grants: unknown[] }>(
        broker.url,
        'GET',
        `/admin/grants?client_id=${clientId}&limit=1000`,
      )
    ).body.grants.length;

  it('issues a token for the person (sub issuer|sub, act the agent); policy reads on_behalf_of', async () => {
    const res = await forPerson(await personToken(), ['export']);
    expect(res.status, res.text).toBe(200);
    expect(res.body.issued_token_type).toBe(TT.access);
    const token = String(res.body.access_token);
    expect(claimsOf(token)).toMatchObject({
      sub: `${idp.issuer}|alice`,
      client_id: agent.client_id,
      act: { sub: agent.client_id },
    });
    const grant = await admin<{ context: Record<string, unknown> }>(
      broker.url,
      'GET',
      `/admin/grants/${String(res.body.grant_id)}`,
    );
    expect(grant.body.context).toMatchObject({
      delegated: true,
      on_behalf_of: { issuer: idp.issuer, sub: 'alice', groups: ['finance'] },
    });
    // At the resource: evaluation decides with the same context and says who acts.
    const decision = await evaluate(token, `${idp.issuer}|alice`, 'export');
    expect(decision.body).toMatchObject({
      decision: true,
      context: { act: { sub: agent.client_id } },
    });
    const intro = await oauthPost(broker.url, '/oauth/introspect', { token }, resource);
    expect(intro.body).toMatchObject({ active: true, act: { sub: agent.client_id } });
    // The same agent without a person may not export.
    const alone = await oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([task(['export'], { locations: [CRM] })]),
      },
      agent,
    );
    expect(alone.body.error).toBe('access_denied');
  });

  it('denies what policy denies for this person; an id_token type works alike', async () => {
    const outsider = await personToken({ sub: 'bob', groups: ['sales'] });
    expect((await forPerson(outsider, ['export'])).body.error).toBe('access_denied');
    const read = await exchange({
      subject_token: outsider,
      subject_token_type: TT.id,
      scope: 'read',
      resource: CRM,
    });
    expect(read.status, read.text).toBe(200);
  });

  it('honours may_act: the agent it names may act, another is invalid_grant', async () => {
    const token = await personToken({ may_act: { sub: agent.client_id } });
    expect((await forPerson(token, ['read'])).status).toBe(200);
    const before = await grantCount(other.client_id);
    const refused = await forPerson(token, ['read'], other);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(await grantCount(other.client_id)).toBe(before);
  });

  it('hands a person grant to a sub-agent: sub stays the person, act nests, on_behalf_of carried', async () => {
    const first = await forPerson(await personToken(), ['read', 'export']);
    const child = await exchange(
      {
        subject_token: String(first.body.access_token),
        subject_token_type: TT.access,
        authorization_details: JSON.stringify([task(['export'], { locations: [CRM] })]),
      },
      other,
    );
    expect(child.status, child.text).toBe(200);
    expect(claimsOf(String(child.body.access_token))).toMatchObject({
      sub: `${idp.issuer}|alice`,
      client_id: other.client_id,
      act: { sub: other.client_id, act: { sub: agent.client_id } },
    });
  });

  it('binds exchanged tokens with DPoP; a bound subject token needs a proof by its key', async () => {
    const as = await discover(broker.issuer);
    const client: oauth.Client = { client_id: agent.client_id };
    const keys = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP(client, keys);
    const res = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(agent.client_secret),
      EXCHANGE,
      {
        subject_token: await personToken(),
        subject_token_type: TT.jwt,
        scope: 'read',
        resource: CRM,
      },
      { ...insecure, DPoP },
    );
    const bound = await oauth.processGenericTokenEndpointResponse(as, client, res);
    expect(bound.token_type).toBe('dpop');
    const jkt = (claimsOf(bound.access_token).cnf as { jkt: string }).jkt;
    expect(jkt).toBeTruthy();
    // Handing the bound token on without a proof is refused, with one by its key it works.
    const bare = await exchange({
      subject_token: bound.access_token,
      subject_token_type: TT.access,
      scope: 'read',
      resource: CRM,
    });
    expect(bare.body.error).toBe('invalid_dpop_proof');
    const res2 = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(agent.client_secret),
      EXCHANGE,
      {
        subject_token: bound.access_token,
        subject_token_type: TT.access,
        scope: 'read',
        resource: CRM,
      },
      { ...insecure, DPoP },
    );
    const child = await oauth.processGenericTokenEndpointResponse(as, client, res2);
    expect((claimsOf(child.access_token).cnf as { jkt: string }).jkt).toBe(jkt);
  });

  describe('ID-JAG (jwt-bearer with typ oauth-id-jag+jwt)', () => {
    const idJag = (claims: Record<string, unknown> = {}, typ = 'oauth-id-jag+jwt') =>
      idp.mint(
        {
          sub: 'alice',
          aud: broker.issuer,
          client_id: agent.client_id,
          resource: CRM,
          scope: 'read',
          groups: ['finance'],
          jti: `jag-${Math.random().toString(36).slice(2)}`,
          ...claims,
        },
        { header: { typ } },
      );
    const present = (assertion: string, extra: Record<string, string> = {}) =>
      oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: JWT_BEARER, assertion, ...extra },
        agent,
      ) as Promise<HttpResult>;

    it('issues a token for the person it names, scoped to its resource, once', async () => {
      const assertion = await idJag();
      const res = await present(assertion);
      expect(res.status, res.text).toBe(200);
      expect(claimsOf(String(res.body.access_token))).toMatchObject({
        sub: `${idp.issuer}|alice`,
        client_id: agent.client_id,
        act: { sub: agent.client_id },
        aud: CRM,
        scope: 'read',
      });
      expect(await isActive(broker.url, resource, String(res.body.access_token))).toBe(true);
      expect((await present(assertion)).body.error).toBe('invalid_grant');
      // Policy sees the person: export for someone in finance.
      const exp = await present(await idJag(), {
        authorization_details: JSON.stringify([task(['export'], { locations: [CRM] })]),
      });
      expect(exp.status, exp.text).toBe(200);
    });

    it('refuses a wrong aud, another client_id, a wrong typ, an unnamed resource', async () => {
      const before = await grantCount(agent.client_id);
      expect((await present(await idJag({ aud: AUDIENCE }))).body.error).toBe('invalid_grant');
      expect((await present(await idJag({ client_id: other.client_id }))).body.error).toBe(
        'invalid_grant',
      );
      // Without the ID-JAG typ it is taken for a workload token, which maps to no agent.
      expect((await present(await idJag({ aud: AUDIENCE }, 'JWT'))).body.error).toBe(
        'invalid_grant',
      );
      const elsewhere = await present(await idJag(), {
        authorization_details: JSON.stringify([
          task(['read'], { locations: ['https://elsewhere.example.com'] }),
        ]),
      });
      expect(elsewhere.body.error).toBe('invalid_target');
      // An ID-JAG needs client authentication.
      const anonymous = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: JWT_BEARER, assertion: await idJag() },
        undefined,
        'none',
      );
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error).toBe('invalid_client');
      expect(await grantCount(agent.client_id)).toBe(before);
    });
  });

  describe('bad input: the RFC error, nothing stored', () => {
    it.each([
      [
        'no subject_token',
        { subject_token_type: TT.jwt, scope: 'read', resource: CRM },
        'invalid_request',
      ],
      [
        'no subject_token_type',
        { subject_token: 'x.y.z', scope: 'read', resource: CRM },
        'invalid_request',
      ],
      [
        'an unknown subject_token_type',
        {
          subject_token: 'x',
          subject_token_type: 'urn:example:saml',
          scope: 'read',
          resource: CRM,
        },
        'invalid_request',
      ],
      [
        'an unsupported requested_token_type',
        {
          subject_token: 'x',
          subject_token_type: TT.jwt,
          requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
          scope: 'read',
          resource: CRM,
        },
        'invalid_request',
      ],
      [
        'a garbage access token',
        {
          subject_token: 'not-a-token',
          subject_token_type: TT.access,
          scope: 'read',
          resource: CRM,
        },
        'invalid_grant',
      ],
    ])('%s', async (_name, params, error) => {
      const before = await grantCount(agent.client_id);
      const res = await exchange(params as Record<string, string>);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe(error);
      expect(await grantCount(agent.client_id)).toBe(before);
    });

    it('a foreign or dead subject token is invalid_grant', async () => {
      const before = await grantCount(agent.client_id);
      // Signed by an issuer nobody registered, as a person token and as an access token.
      const foreign = await personToken({}, stranger);
      expect((await forPerson(foreign, ['read'])).body.error).toBe('invalid_grant');
      const asAccess = await exchange({
        subject_token: foreign,
        subject_token_type: TT.access,
        scope: 'read',
        resource: CRM,
      });
      expect(asAccess.body.error).toBe('invalid_grant');
      // Expired person token; wrong audience.
      expect(
        (
          await forPerson(await idp.mint({ sub: 'alice', aud: AUDIENCE }, { ttlSec: -120 }), [
            'read',
          ])
        ).body.error,
      ).toBe('invalid_grant');
      expect(
        (await forPerson(await personToken({ aud: 'https://elsewhere' }), ['read'])).body.error,
      ).toBe('invalid_grant');
      // A revoked grant's token.
      const live = await forPerson(await personToken(), ['read']);
      await admin(broker.url, 'POST', '/admin/revocations', {
        grant_id: live.body.grant_id,
        reason: 'test',
      });
      const afterRevoke = await grantCount(agent.client_id);
      const dead = await exchange(
        {
          subject_token: String(live.body.access_token),
          subject_token_type: TT.access,
          scope: 'read',
          resource: CRM,
        },
        other,
      );
      expect(dead.body.error).toBe('invalid_grant');
      expect(await grantCount(agent.client_id)).toBe(afterRevoke);
      expect(afterRevoke).toBe(before + 1);
    });
  });
});
