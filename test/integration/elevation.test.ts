// Just-in-time elevation: refresh_token with a wider authorization_details, with and without a human approval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  cibaPoller,
  claimsOf,
  grantView,
  POLICY_CONFIG,
  type PollResult,
} from '../support/action-time.ts';
import {
  admin,
  CRM,
  type Credentials,
  createClient,
  type HttpResult,
  introspect,
  mintToken,
  oauthPost,
  refresh,
  type TokenBody,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;
let base: string;
let writer: Credentials;
let exporter: Credentials;
let resource: Credentials;
let poll: (authReqId: string) => Promise<PollResult>;

beforeAll(async () => {
  broker = await startTestBroker({
    config: `${POLICY_CONFIG}\napprovals: { ttl: 60, interval: 1 }\n`,
  });
  base = broker.url;
  writer = await createClient(base, { name: 'writer', kind: 'agent', groups: ['writers'] });
  exporter = await createClient(base, { name: 'exporter', kind: 'agent', groups: ['exporters'] });
  resource = await createClient(base, { name: 'crm', kind: 'resource', resources: [CRM] });
  poll = await cibaPoller(base, exporter);
});

afterAll(async () => {
  await broker?.close();
});

function entry(taskId: string, actions: string[], extra: Record<string, unknown> = {}) {
  return {
    type: 'agent_task',
    task_id: taskId,
    purpose: 'elevation test',
    actions,
    locations: [CRM],
    ...extra,
  };
}

const newTaskId = () => `T-el-${Math.random().toString(36).slice(2, 10)}`;

/** grant_type=refresh_token asking for `details`. */
function elevate(agent: Credentials, refreshToken: string, details: unknown[]) {
  return oauthPost(
    base,
    '/oauth/token',
    {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      authorization_details: JSON.stringify(details),
    },
    agent,
  ) as Promise<HttpResult<TokenBody & Record<string, unknown>>>;
}

describe('elevation without a human', () => {
  it('a writer holding read gets write on the same task; the grant history shows elevate', async () => {
    const taskId = newTaskId();
    const held = await mintToken(base, writer, [entry(taskId, ['read'])]);
    expect(actionsOf(held.authorization_details)).toEqual(['read']);

    const res = await elevate(writer, held.refresh_token, [entry(taskId, ['read', 'write'])]);
    expect(res.status, res.text).toBe(200);
    expect(res.body.grant_id).toBe(held.grant_id);
    expect(actionsOf(res.body.authorization_details)).toEqual(['read', 'write']);
    expect(actionsOf(claimsOf(res.body.access_token).authorization_details)).toEqual([
      'read',
      'write',
    ]);
    const seen = await introspect(base, resource, res.body.access_token);
    expect(seen.body).toMatchObject({ active: true, grant_id: held.grant_id });
    expect(actionsOf(seen.body.authorization_details as Array<{ actions: string[] }>)).toEqual([
      'read',
      'write',
    ]);

    // The refresh token rotated: the old one is spent, the new one refreshes the wider grant.
    expect(res.body.refresh_token).not.toBe(held.refresh_token);
    const again = await refresh(base, writer, res.body.refresh_token);
    expect(again.status, again.text).toBe(200);
    expect(actionsOf(again.body.authorization_details)).toEqual(['read', 'write']);

    const grant = await grantView(base, held.grant_id);
    expect(actionsOf(grant.granted)).toEqual(['read', 'write']);
    const kinds = grant.history.map((r) => `${r.kind}:${r.outcome}`);
    expect(kinds.slice(0, 3)).toEqual(['mint:permit', 'refresh:elevate', 'refresh:permit']);
    expect(grant.history[1]?.inputs).toMatchObject({ granted_before: [{ actions: ['read'] }] });
  });

  it('a different task_id is invalid_authorization_details and changes nothing', async () => {
    const taskId = newTaskId();
    const held = await mintToken(base, writer, [entry(taskId, ['read'])]);
    const res = await elevate(writer, held.refresh_token, [entry(newTaskId(), ['read', 'write'])]);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('invalid_authorization_details');
    const grant = await grantView(base, held.grant_id);
    expect(actionsOf(grant.granted)).toEqual(['read']);
    expect(grant.history.map((r) => r.kind)).toEqual(['mint']);
    // The refresh token was not spent by the refused request.
    expect((await refresh(base, writer, held.refresh_token)).status).toBe(200);
  });

  it('asking for an action policy refuses narrows the wider request back; the grant keeps what it had', async () => {
    const taskId = newTaskId();
    const held = await mintToken(base, writer, [entry(taskId, ['read'])]);
    const res = await elevate(writer, held.refresh_token, [entry(taskId, ['read', 'deploy'])]);
    // A writer may not deploy: like a new request, the wider one is narrowed to what policy permits.
    expect(res.status, res.text).toBe(200);
    expect(actionsOf(res.body.authorization_details)).toEqual(['read']);
    expect(actionsOf((await grantView(base, held.grant_id)).granted)).toEqual(['read']);
  });

  it("never outlives the grant's deadline, even when the wider request asks for a longer ttl", async () => {
    const taskId = newTaskId();
    const held = await mintToken(base, writer, [entry(taskId, ['read'], { ttl: 60 })]);
    const before = await grantView(base, held.grant_id);
    const res = await elevate(writer, held.refresh_token, [
      entry(taskId, ['read', 'write'], { ttl: 86_400 }),
    ]);
    expect(res.status, res.text).toBe(200);
    const after = await grantView(base, held.grant_id);
    expect(after.expires_at).toBe(before.expires_at);
    expect(claimsOf(res.body.access_token).exp).toBeLessThanOrEqual(before.expires_at);
    expect(res.body.expires_in).toBeLessThanOrEqual(60);
  });
});

describe('elevation that needs a human', () => {
  it('export: approval_required, then the CIBA poll widens the SAME grant and the old refresh token still works', async () => {
    const taskId = newTaskId();
    const held = await mintToken(base, exporter, [entry(taskId, ['read'], { ttl: 120 })]);
    const deadline = (await grantView(base, held.grant_id)).expires_at;

    const asked = await elevate(exporter, held.refresh_token, [entry(taskId, ['read', 'export'])]);
    expect(asked.status, asked.text).toBe(400);
    expect(asked.body).toMatchObject({ error: 'approval_required', interval: 1 });
    const authReqId = String(asked.body.auth_req_id);

    const list = await admin<{ approvals: Array<{ id: string; kind: string; grant_id?: string }> }>(
      base,
      'GET',
      '/admin/approvals?status=pending',
    );
    expect(list.body.approvals.find((a) => a.id === authReqId)).toMatchObject({
      kind: 'elevation',
      grant_id: held.grant_id,
    });
    expect(await poll(authReqId)).toMatchObject({ ok: false, error: 'authorization_pending' });

    // Until approved, the grant holds read only.
    expect(actionsOf((await grantView(base, held.grant_id)).granted)).toEqual(['read']);
    expect(
      (
        await admin(base, 'POST', `/admin/approvals/${authReqId}`, {
          decision: 'approve',
          note: 'ok',
        })
      ).status,
    ).toBe(200);
    await new Promise((r) => setTimeout(r, 1150));

    const got = await poll(authReqId);
    if (!got.ok) throw new Error(`expected tokens, got ${got.error}`);
    expect(got.tokens.grant_id).toBe(held.grant_id);
    expect(got.tokens.refresh_token).toBeUndefined();
    expect(actionsOf(got.tokens.authorization_details as Array<{ actions: string[] }>)).toEqual([
      'export',
      'read',
    ]);
    const claims = claimsOf(got.tokens.access_token);
    expect(claims.grant_id).toBe(held.grant_id);
    expect(actionsOf(claims.authorization_details)).toEqual(['export', 'read']);
    expect(claims.exp).toBeLessThanOrEqual(deadline);
    expect((await introspect(base, resource, got.tokens.access_token)).body.active).toBe(true);

    // The agent's refresh token names the now wider grant.
    const refreshed = await refresh(base, exporter, held.refresh_token);
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(refreshed.body.grant_id).toBe(held.grant_id);
    expect(actionsOf(refreshed.body.authorization_details)).toEqual(['export', 'read']);
    expect(claimsOf(refreshed.body.access_token).exp).toBeLessThanOrEqual(deadline);

    const grant = await grantView(base, held.grant_id);
    expect(grant.expires_at).toBe(deadline);
    expect(grant.history.map((r) => `${r.kind}:${r.outcome}`)).toEqual(
      expect.arrayContaining([
        'mint:permit',
        'refresh:approval_required',
        'approval:approved',
        'refresh:elevate',
        'refresh:permit',
      ]),
    );
    expect(grant.history.find((r) => r.kind === 'approval')?.inputs).toMatchObject({
      by: 'bootstrap',
      approval_kind: 'elevation',
    });
    // Collected once.
    await new Promise((r) => setTimeout(r, 1150));
    expect(await poll(authReqId)).toMatchObject({ ok: false, error: 'invalid_grant' });
  });

  it('a denied elevation leaves the grant as it was', async () => {
    const taskId = newTaskId();
    const held = await mintToken(base, exporter, [entry(taskId, ['read'])]);
    const asked = await elevate(exporter, held.refresh_token, [entry(taskId, ['read', 'export'])]);
    expect(asked.body.error).toBe('approval_required');
    const authReqId = String(asked.body.auth_req_id);
    expect(
      (await admin(base, 'POST', `/admin/approvals/${authReqId}`, { decision: 'deny' })).status,
    ).toBe(200);
    expect(await poll(authReqId)).toMatchObject({ ok: false, error: 'access_denied' });
    expect(actionsOf((await grantView(base, held.grant_id)).granted)).toEqual(['read']);
    const refreshed = await refresh(base, exporter, held.refresh_token);
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(actionsOf(refreshed.body.authorization_details)).toEqual(['read']);
  });
});
