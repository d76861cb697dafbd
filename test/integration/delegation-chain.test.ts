// RFC 8693 agent to sub-agent over sockets: child grants within the parent's pairs and deadline, nested act chains, max_depth, and cascading revocation and narrowing.
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
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';
import { claimsOf, discover, EXCHANGE, insecure, TT } from '../support/token-exchange.ts';

const FILES = 'https://files.example.com';

describe('delegation from agent to sub-agent', () => {
  let broker: TestBroker;
  let lead: Credentials;
  let helper: Credentials;
  let worker: Credentials;
  let intern: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker({ config: 'delegation: { max_depth: 3 }\n' });
    const agent = (name: string) =>
      broker.client({ name, kind: 'agent', groups: ['writers'] }) as Promise<Credentials>;
    [lead, helper, worker, intern] = await Promise.all([
      agent('lead'),
      agent('helper'),
      agent('worker'),
      agent('intern'),
    ]);
    resource = await broker.client({ name: 'crm', kind: 'resource', resources: [CRM, FILES] });
  });
  afterAll(() => broker?.close());

  const mintLead = async (actions = ['read', 'write'], ttl = 600) => {
    const taskId = `lead-${Math.random().toString(36).slice(2, 10)}`;
    const res = await oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([
          task(actions, { locations: [CRM], ttl, taskId }),
          task(['read'], { locations: [FILES], taskId }),
        ]),
      },
      lead,
    );
    expect(res.status, res.text).toBe(200);
    return res.body as { access_token: string; grant_id: string; refresh_token: string };
  };
  const exchange = (
    agent: Credentials,
    subjectToken: string,
    details: unknown[] | undefined,
    extra: Record<string, string> = {},
  ) =>
    oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: TT.access,
        ...(details ? { authorization_details: JSON.stringify(details) } : {}),
        ...extra,
      },
      agent,
    ) as Promise<HttpResult<Record<string, string> & { authorization_details: unknown[] }>>;
  const grantOf = (id: string) =>
    admin<{
      status: string;
      expires_at: number;
      granted: Array<{ actions: string[] }>;
      parent?: string;
      children: string[];
      delegation?: { subject: string };
    }>(broker.url, 'GET', `/admin/grants/${id}`);

  it('hands a sub-agent part of a grant (oauth4webapi genericTokenEndpointRequest): sub stays, act names the sub-agent', async () => {
    const parent = await mintLead();
    const as = await discover(broker.issuer);
    expect(as.grant_types_supported).toContain(EXCHANGE);
    const client = { client_id: helper.client_id };
    const res = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(helper.client_secret),
      EXCHANGE,
      {
        subject_token: parent.access_token,
        subject_token_type: TT.access,
        requested_token_type: TT.access,
        authorization_details: JSON.stringify([task(['read'], { locations: [CRM] })]),
      },
      insecure,
    );
    const body = await oauth.processGenericTokenEndpointResponse(as, client, res);
    expect(body.issued_token_type).toBe(TT.access);
    const claims = claimsOf(body.access_token);
    expect(claims.sub).toBe(lead.client_id);
    expect(claims.client_id).toBe(helper.client_id);
    expect(claims.act).toEqual({ sub: helper.client_id });
    // Introspection shows the chain.
    const seen = await oauthPost(
      broker.url,
      '/oauth/introspect',
      { token: body.access_token },
      resource,
    );
    expect(seen.body.active).toBe(true);
    expect(seen.body.act).toEqual({ sub: helper.client_id });
    expect(seen.body.sub).toBe(lead.client_id);
    // The admin view links parent and child.
    const child = String(body.grant_id);
    expect((await grantOf(child)).body.parent).toBe(parent.grant_id);
    expect((await grantOf(parent.grant_id)).body.children).toEqual([child]);
  });

  it('nests the chain, current actor outermost, and refuses deeper than delegation.max_depth', async () => {
    const parent = await mintLead();
    const one = await exchange(helper, parent.access_token, [task(['read'], { locations: [CRM] })]);
    expect(one.status, one.text).toBe(200);
    const two = await exchange(worker, one.body.access_token as string, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(two.status, two.text).toBe(200);
    const three = await exchange(intern, two.body.access_token as string, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(three.status, three.text).toBe(200);
    expect(claimsOf(three.body.access_token as string)).toMatchObject({
      sub: lead.client_id,
      client_id: intern.client_id,
      act: {
        sub: intern.client_id,
        act: { sub: worker.client_id, act: { sub: helper.client_id } },
      },
    });
    // A fourth level is over max_depth (3): refused, nothing stored.
    const four = await exchange(helper, three.body.access_token as string, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(four.status).toBe(400);
    expect(four.body.error).toBe('invalid_request');
    expect((await grantOf(String(three.body.grant_id))).body.children).toEqual([]);
  });

  it('narrows a wider request to the parent pairs, refuses one with none of them, caps the deadline', async () => {
    const parent = await mintLead(['read'], 300);
    const wider = await exchange(helper, parent.access_token, [
      task(['read', 'delete'], { locations: [CRM, 'https://other.example.com'], ttl: 3600 }),
    ]);
    expect(wider.status, wider.text).toBe(200);
    expect(wider.body.authorization_details).toMatchObject([
      { actions: ['read'], locations: [CRM] },
    ]);
    const [p, c] = await Promise.all([
      grantOf(parent.grant_id),
      grantOf(String(wider.body.grant_id)),
    ]);
    expect(c.body.expires_at).toBeLessThanOrEqual(p.body.expires_at);
    const outside = await exchange(helper, parent.access_token, [
      task(['write'], { locations: [CRM] }),
    ]);
    expect(outside.status).toBe(400);
    expect(outside.body.error).toBe('invalid_target');
  });

  it('revoking the parent revokes every grant below it before the call returns', async () => {
    const parent = await mintLead();
    const child = await exchange(helper, parent.access_token, [
      task(['read'], { locations: [CRM] }),
    ]);
    const grandchild = await exchange(worker, child.body.access_token as string, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(grandchild.status, grandchild.text).toBe(200);
    const revoked = await admin<{ revoked: { grants: number } }>(
      broker.url,
      'POST',
      '/admin/revocations',
      { grant_id: parent.grant_id, reason: 'task cancelled' },
    );
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked.grants).toBe(3);
    expect(await isActive(broker.url, resource, child.body.access_token as string)).toBe(false);
    expect(await isActive(broker.url, resource, grandchild.body.access_token as string)).toBe(
      false,
    );
    expect((await grantOf(String(grandchild.body.grant_id))).body.status).toBe('revoked');
    // A revoked parent's token exchanges for nothing.
    const late = await exchange(helper, parent.access_token, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(late.body.error).toBe('invalid_grant');
  });

  it('revoking the child leaves the parent; RFC 7009 revocation of the parent refresh token cascades', async () => {
    const parent = await mintLead();
    const child = await exchange(helper, parent.access_token, [
      task(['read'], { locations: [CRM] }),
    ]);
    await admin(broker.url, 'POST', '/admin/revocations', {
      grant_id: child.body.grant_id,
      reason: 'sub-task done',
    });
    expect(await isActive(broker.url, resource, child.body.access_token as string)).toBe(false);
    expect(await isActive(broker.url, resource, parent.access_token)).toBe(true);

    const again = await exchange(helper, parent.access_token, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(await isActive(broker.url, resource, again.body.access_token as string)).toBe(true);
    const done = await oauthPost(
      broker.url,
      '/oauth/revoke',
      { token: parent.refresh_token, token_type_hint: 'refresh_token' },
      lead,
    );
    expect(done.status).toBe(200);
    expect(await isActive(broker.url, resource, again.body.access_token as string)).toBe(false);
  });

  it('a re-evaluation that revokes the parent (a signal) revokes its children before the 202', async () => {
    const parent = await mintLead(['read']);
    const child = await exchange(helper, parent.access_token, [
      task(['read'], { locations: [CRM] }),
    ]);
    expect(child.status, child.text).toBe(200);
    const signal = await fetch(`${broker.url}/v1/signals`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${resource.client_id}:${resource.client_secret}`).toString('base64')}`,
      },
      body: JSON.stringify({
        grant_id: parent.grant_id,
        type: 'prompt_changed',
        context: { actions: ['export'] },
      }),
    });
    expect(signal.status).toBe(202);
    expect(await isActive(broker.url, resource, parent.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, child.body.access_token as string)).toBe(false);
    const history = await admin<{ history: Array<{ kind: string; reasons: string[] }> }>(
      broker.url,
      'GET',
      `/admin/grants/${String(child.body.grant_id)}`,
    );
    expect(history.body.history.map((r) => [r.kind, r.reasons[0]])).toContainEqual([
      'revocation',
      'parent_revoked',
    ]);
  });

  it('narrowing the parent (policy on refresh) narrows the child to what it still holds', async () => {
    const parent = await mintLead(['read', 'write']);
    const child = await exchange(helper, parent.access_token, [
      task(['read', 'write'], { locations: [CRM] }),
    ]);
    const writeOnly = await exchange(worker, parent.access_token, [
      task(['write'], { locations: [CRM] }),
    ]);
    expect(child.status, child.text).toBe(200);
    expect(writeOnly.status, writeOnly.text).toBe(200);
    const put = await admin(broker.url, 'PUT', '/admin/policies', {
      policies: '@id("reads-only") permit(principal, action == Action::"read", resource);',
    });
    expect(put.status, put.text).toBe(200);
    const refreshed = await oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: parent.refresh_token },
      lead,
    );
    expect(refreshed.status, refreshed.text).toBe(200);
    const narrowed = await grantOf(String(child.body.grant_id));
    expect(narrowed.body.status).toBe('active');
    expect(narrowed.body.granted.flatMap((e) => e.actions)).toEqual(['read']);
    // Its outstanding token carried write: it is gone. The write-only child had nothing left.
    expect(await isActive(broker.url, resource, child.body.access_token as string)).toBe(false);
    expect((await grantOf(String(writeOnly.body.grant_id))).body.status).toBe('revoked');
  });
});
