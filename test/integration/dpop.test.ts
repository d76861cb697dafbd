// DPoP (RFC 9449) end to end over sockets: oauth4webapi's DPoP against a real broker and Redis.
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProof, type ProofKey, proofKey } from '../support/attack-proofs.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClient,
  createClients,
  introspect,
  oauthPost,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const withDpop = (DPoP?: oauth.DPoPHandle) => ({ ...insecure, ...(DPoP ? { DPoP } : {}) });

/** client_credentials for `actions` on the CRM with a hand-made proof in the DPoP header (raw result). */
const tokenWithProof = (broker: TestBroker, agent: Credentials, actions: string[], proof: string) =>
  oauthPost(
    broker.url,
    '/oauth/token',
    { grant_type: 'client_credentials', authorization_details: JSON.stringify([task(actions)]) },
    agent,
    'basic',
    { DPoP: proof },
  );

/** An oauth4webapi session of one agent at one broker, with a DPoP handle per key pair. */
async function sessionOf(broker: TestBroker, agent: Credentials) {
  const issuer = new URL(broker.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  );
  const client: oauth.Client = { client_id: agent.client_id };
  const auth = oauth.ClientSecretBasic(agent.client_secret);
  return {
    as,
    handle: async () => oauth.DPoP(client, await oauth.generateKeyPair('ES256')),
    clientCredentials: async (details: unknown[], DPoP?: oauth.DPoPHandle) =>
      oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(
          as,
          client,
          auth,
          { authorization_details: JSON.stringify(details) },
          withDpop(DPoP),
        ),
      ),
    refresh: async (refreshToken: string, DPoP?: oauth.DPoPHandle) =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, withDpop(DPoP)),
      ),
    poll: async (authReqId: string, DPoP?: oauth.DPoPHandle) =>
      oauth.processBackchannelAuthenticationGrantResponse(
        as,
        client,
        await oauth.backchannelAuthenticationGrantRequest(
          as,
          client,
          auth,
          authReqId,
          withDpop(DPoP),
        ),
      ),
  };
}

const cnfOf = (token: string) => (decodeJwt(token) as { cnf?: { jkt?: string } }).cnf;

/** An AuthZEN evaluation as the resource client, with what a PEP forwards of a DPoP-bound call. */
async function evaluate(
  broker: TestBroker,
  resource: Credentials,
  agentId: string,
  token: string,
  opts: {
    proof?: string;
    jkt?: string;
    http?: { method: string; uri: string };
    action?: string;
  } = {},
) {
  const res = await fetch(`${broker.url}/access/v1/evaluation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
    body: JSON.stringify({
      subject: {
        type: 'agent',
        id: agentId,
        properties: {
          token,
          ...(opts.proof ? { dpop: opts.proof } : {}),
          ...(opts.jkt ? { jkt: opts.jkt } : {}),
        },
      },
      action: { name: opts.action ?? 'read' },
      resource: { type: 'resource', id: CRM },
      context: { ...(opts.http ? { http: opts.http } : {}) },
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { decision: boolean; context: { reason_admin?: { code: string } } };
}

const CALL = { method: 'GET', uri: `${CRM}/contacts/42` };

describe('DPoP at a broker with default settings', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let s: Awaited<ReturnType<typeof sessionOf>>;

  beforeAll(async () => {
    broker = await startTestBroker({ config: 'approvals: { interval: 1 }\n' });
    ({ agent, resource } = await createClients(broker.url, { groups: ['writers', 'exporters'] }));
    s = await sessionOf(broker, agent);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('advertises the proof algorithms in its metadata', () => {
    expect(s.as.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA', 'PS256', 'RS256']);
  });

  it('binds a client_credentials token to the proof key: token_type DPoP, cnf.jkt its thumbprint', async () => {
    const dpop = await s.handle();
    const tr = await s.clientCredentials([task(['read'])], dpop);
    expect(tr.token_type).toBe('dpop');
    expect(cnfOf(tr.access_token)).toEqual({ jkt: await dpop.calculateThumbprint() });
    const info = await introspect(broker.url, resource, tr.access_token);
    expect(info.body).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: await dpop.calculateThumbprint() },
    });
    // Without a proof the same request still gets a Bearer token, with no cnf.
    const bearer = await s.clientCredentials([task(['read'])]);
    expect(bearer.token_type).toBe('bearer');
    expect(cnfOf(bearer.access_token)).toBeUndefined();
    expect((await introspect(broker.url, resource, bearer.access_token)).body).toMatchObject({
      active: true,
      token_type: 'Bearer',
    });
  });

  it('refreshes a bound grant only with a proof by its key; a refused refresh rotates nothing', async () => {
    const dpop = await s.handle();
    const first = await s.clientCredentials([task(['read'])], dpop);
    const rt = first.refresh_token as string;
    await expect(s.refresh(rt, await s.handle())).rejects.toMatchObject({
      error: 'invalid_dpop_proof',
    });
    await expect(s.refresh(rt)).rejects.toMatchObject({ error: 'invalid_dpop_proof' });
    const next = await s.refresh(rt, dpop);
    expect(next.token_type).toBe('dpop');
    expect(cnfOf(next.access_token)).toEqual({ jkt: await dpop.calculateThumbprint() });
    expect(next.grant_id).toBe(first.grant_id);
  });

  it('binds the tokens of an approved request to the key of the CIBA poll', async () => {
    const details = [task(['read', 'export'])];
    const asked = await oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: JSON.stringify(details) },
      agent,
    );
    expect(asked.body.error).toBe('approval_required');
    const id = asked.body.auth_req_id as string;
    expect(
      (await admin(broker.url, 'POST', `/admin/approvals/${id}`, { decision: 'approve' })).status,
    ).toBe(200);
    const dpop = await s.handle();
    const tr = await s.poll(id, dpop);
    expect(tr.token_type).toBe('dpop');
    expect(cnfOf(tr.access_token)).toEqual({ jkt: await dpop.calculateThumbprint() });
  });

  it('refuses a dpop_bound_access_tokens client without a proof, and binds its tokens with one', async () => {
    const bound = await createClient(broker.url, {
      name: 'always dpop',
      kind: 'agent',
      dpop_bound_access_tokens: true,
    });
    const view = await admin(broker.url, 'GET', `/admin/clients/${bound.client_id}`);
    expect(view.body).toMatchObject({ dpop_bound_access_tokens: true });
    const b = await sessionOf(broker, bound);
    const grantsBefore = await admin<{ grants: unknown[] }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${bound.client_id}`,
    );
    await expect(b.clientCredentials([task(['read'])])).rejects.toMatchObject({
      error: 'invalid_dpop_proof',
    });
    const grantsAfter = await admin<{ grants: unknown[] }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${bound.client_id}`,
    );
    expect(grantsAfter.body.grants.length).toBe(grantsBefore.body.grants.length);
    const tr = await b.clientCredentials([task(['read'])], await b.handle());
    expect(tr.token_type).toBe('dpop');
  });

  describe('AuthZEN evaluation of a bound token', () => {
    let key: ProofKey;
    let token: string;

    beforeAll(async () => {
      key = await proofKey();
      const proof = await makeProof(key, { method: 'POST', url: `${broker.issuer}/oauth/token` });
      const res = await tokenWithProof(broker, agent, ['read'], proof);
      expect(res.status, res.text).toBe(200);
      token = res.body.access_token as string;
      expect(cnfOf(token)).toEqual({ jkt: key.jkt });
    });

    const forwarded = async (over: Partial<Parameters<typeof makeProof>[1]> = {}) =>
      makeProof(key, { method: CALL.method, url: CALL.uri, accessToken: token, ...over });

    it('is true with a valid forwarded proof for context.http, once', async () => {
      const proof = await forwarded();
      expect(
        (await evaluate(broker, resource, agent.client_id, token, { proof, http: CALL })).decision,
      ).toBe(true);
      // The same proof again is a replay.
      const again = await evaluate(broker, resource, agent.client_id, token, { proof, http: CALL });
      expect(again).toMatchObject({
        decision: false,
        context: { reason_admin: { code: 'dpop_proof_invalid' } },
      });
    });

    it('is false without a proof, with a bad one, or with the caller only stating the key', async () => {
      expect(await evaluate(broker, resource, agent.client_id, token)).toMatchObject({
        decision: false,
        context: { reason_admin: { code: 'dpop_proof_missing' } },
      });
      const cases = [
        await forwarded({ url: `${CRM}/other` }),
        await forwarded({ method: 'DELETE' }),
        await forwarded({ accessToken: `${token}x` }),
        await makeProof(await proofKey(), {
          method: CALL.method,
          url: CALL.uri,
          accessToken: token,
        }),
      ];
      for (const proof of cases) {
        const answer = await evaluate(broker, resource, agent.client_id, token, {
          proof,
          http: CALL,
        });
        expect(answer.decision).toBe(false);
      }
      // trust_resource_verification is off: a stated key is no proof.
      const stated = await evaluate(broker, resource, agent.client_id, token, { jkt: key.jkt });
      expect(stated.decision).toBe(false);
    });

    it('lets one forwarded proof back every evaluation of a batch for its request', async () => {
      const proof = await forwarded();
      const res = await fetch(`${broker.url}/access/v1/evaluations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
        body: JSON.stringify({
          subject: { type: 'agent', id: agent.client_id, properties: { token, dpop: proof } },
          resource: { type: 'resource', id: CRM },
          context: { http: CALL },
          evaluations: [{ action: { name: 'read' } }, { action: { name: 'read' } }],
        }),
      });
      const body = (await res.json()) as { evaluations: Array<{ decision: boolean }> };
      expect(body.evaluations.map((e) => e.decision)).toEqual([true, true]);
      // The batch spent the proof: alone, it is a replay.
      const again = await evaluate(broker, resource, agent.client_id, token, { proof, http: CALL });
      expect(again.decision).toBe(false);
    });
  });
});

describe('DPoP at a broker requiring nonces and trusting resource verification', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let s: Awaited<ReturnType<typeof sessionOf>>;

  beforeAll(async () => {
    broker = await startTestBroker({
      config: 'dpop: { require_nonce: true, trust_resource_verification: true }\n',
    });
    ({ agent, resource } = await createClients(broker.url));
    s = await sessionOf(broker, agent);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('answers use_dpop_nonce with a DPoP-Nonce header, and oauth4webapi retries with it', async () => {
    const dpop = await s.handle();
    let first: unknown;
    try {
      await s.clientCredentials([task(['read'])], dpop);
    } catch (err) {
      first = err;
    }
    expect(oauth.isDPoPNonceError(first)).toBe(true);
    const tr = await s.clientCredentials([task(['read'])], dpop);
    expect(tr.token_type).toBe('dpop');
    // Refresh with the nonce the token response carried: no second use_dpop_nonce.
    const next = await s.refresh(tr.refresh_token as string, dpop);
    expect(next.token_type).toBe('dpop');
  });

  it('refuses a proof without a nonce with the RFC body and header, creating nothing', async () => {
    const grantsBefore = (
      await admin<{ grants: unknown[] }>(
        broker.url,
        'GET',
        `/admin/grants?client_id=${agent.client_id}`,
      )
    ).body.grants.length;
    const key = await proofKey();
    const proof = await makeProof(key, { method: 'POST', url: `${broker.issuer}/oauth/token` });
    const res = await tokenWithProof(broker, agent, ['read'], proof);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('use_dpop_nonce');
    expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.text).not.toContain(proof);
    const grants = await admin<{ grants: unknown[] }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${agent.client_id}`,
    );
    expect(grants.body.grants.length).toBe(grantsBefore);
  });

  it('takes the key the resource says it verified (trust_resource_verification)', async () => {
    const dpop = await s.handle();
    await s.clientCredentials([task(['read'])], dpop).catch(() => undefined);
    const tr = await s.clientCredentials([task(['read'])], dpop);
    const jkt = await dpop.calculateThumbprint();
    expect(
      (await evaluate(broker, resource, agent.client_id, tr.access_token, { jkt })).decision,
    ).toBe(true);
    const wrong = await evaluate(broker, resource, agent.client_id, tr.access_token, {
      jkt: (await proofKey()).jkt,
    });
    expect(wrong).toMatchObject({
      decision: false,
      context: { reason_admin: { code: 'dpop_proof_invalid' } },
    });
  });
});

describe('a Cedar policy requiring context.sender_constrained', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let s: Awaited<ReturnType<typeof sessionOf>>;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url, { groups: ['writers'] }));
    s = await sessionOf(broker, agent);
    const current = await admin<{ policies: string }>(broker.url, 'GET', '/admin/policies');
    const policies = `${current.body.policies}\n@id("write-needs-dpop")\nforbid (principal, action == Action::"write", resource) unless { context.sender_constrained };\n`;
    const put = await admin(broker.url, 'PUT', '/admin/policies', { policies });
    expect(put.status, put.text).toBe(200);
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('permits write to a bound token at mint, refresh and evaluation, and narrows a bearer one', async () => {
    const bearer = await s.clientCredentials([task(['read', 'write'])]);
    expect(bearer.authorization_details?.[0]).toMatchObject({ actions: ['read'] });

    const dpop = await s.handle();
    const bound = await s.clientCredentials([task(['read', 'write'])], dpop);
    expect(bound.authorization_details?.[0]).toMatchObject({ actions: ['read', 'write'] });
    const refreshed = await s.refresh(bound.refresh_token as string, dpop);
    expect(refreshed.authorization_details?.[0]).toMatchObject({ actions: ['read', 'write'] });

    const key = await proofKey();
    const proof = await makeProof(key, { method: 'POST', url: `${broker.issuer}/oauth/token` });
    const res = await tokenWithProof(broker, agent, ['read', 'write'], proof);
    const token = res.body.access_token as string;
    const call = await makeProof(key, { method: CALL.method, url: CALL.uri, accessToken: token });
    const write = await evaluate(broker, resource, agent.client_id, token, {
      proof: call,
      http: CALL,
      action: 'write',
    });
    expect(write.decision).toBe(true);
  });
});
