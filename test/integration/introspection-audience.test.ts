// Who may introspect what, admin revocation by every target, and the client kill switch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  type Credentials,
  createClient,
  createClients,
  introspect,
  isActive,
  mintToken,
  refresh,
  requestToken,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

type Revoked = { revoked: { grants: number; tokens: number } };

describe('introspection audience and admin revocation', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url));
  });

  afterAll(async () => {
    await broker?.close();
  });

  const jtiOf = (token: string) =>
    JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti as string;

  it('a resource client serving another resource gets active:false for a CRM token', async () => {
    const erp = await createClient(broker.url, {
      name: 'erp',
      kind: 'resource',
      resources: ['https://erp.example.com'],
    });
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const foreign = await introspect(broker.url, erp, tr.access_token);
    expect(foreign.status).toBe(200);
    expect(foreign.body).toEqual({ active: false });
    // The same token is live for its own audience.
    expect(await isActive(broker.url, resource, tr.access_token)).toBe(true);
  });

  it('a token for several locations is active for each of their resource clients', async () => {
    const erp = await createClient(broker.url, {
      name: 'erp2',
      kind: 'resource',
      resources: ['https://erp.example.com'],
    });
    const tr = await mintToken(broker.url, agent, [
      task(['read'], { locations: ['https://crm.example.com', 'https://erp.example.com'] }),
    ]);
    expect(await isActive(broker.url, resource, tr.access_token)).toBe(true);
    expect(await isActive(broker.url, erp, tr.access_token)).toBe(true);
  });

  it('an agent client calling introspect is refused', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const res = await introspect(broker.url, agent, tr.access_token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect(res.body).not.toHaveProperty('active');
  });

  it('a resource client cannot get tokens', async () => {
    const res = await requestToken(broker.url, resource, [task(['read'])]);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
  });

  it('revokes by jti: that token only', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const other = await refresh(broker.url, agent, tr.refresh_token);
    const res = await admin<Revoked>(broker.url, 'POST', '/admin/revocations', {
      jti: jtiOf(tr.access_token),
      reason: 'test',
    });
    expect(res.status).toBe(200);
    expect(res.body.revoked).toEqual({ grants: 0, tokens: 1 });
    expect(await isActive(broker.url, resource, tr.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, other.body.access_token)).toBe(true);
    const again = await admin<Revoked>(broker.url, 'POST', '/admin/revocations', {
      jti: jtiOf(tr.access_token),
      reason: 'test',
    });
    expect(again.body.revoked).toEqual({ grants: 0, tokens: 0 });
  });

  it('revokes by grant_id: every live token of the grant', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const second = await refresh(broker.url, agent, tr.refresh_token);
    const res = await admin<Revoked>(broker.url, 'POST', '/admin/revocations', {
      grant_id: tr.grant_id,
      reason: 'test',
    });
    expect(res.status).toBe(200);
    expect(res.body.revoked).toEqual({ grants: 1, tokens: 2 });
    expect(await isActive(broker.url, resource, tr.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, second.body.access_token)).toBe(false);
    const r = await refresh(broker.url, agent, second.body.refresh_token);
    expect(r.body.error).toBe('invalid_grant');
    const unknown = await admin(broker.url, 'POST', '/admin/revocations', {
      grant_id: 'g_does-not-exist',
      reason: 'test',
    });
    expect(unknown.status).toBe(404);
  });

  it('revokes by task_id: every grant of the task, no other', async () => {
    const a = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-task-revoke' })]);
    const b = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-task-revoke' })]);
    const bystander = await mintToken(broker.url, agent, [
      task(['read'], { taskId: 'T-task-bystander' }),
    ]);
    const res = await admin<Revoked>(broker.url, 'POST', '/admin/revocations', {
      task_id: 'T-task-revoke',
      reason: 'test',
    });
    expect(res.status).toBe(200);
    expect(res.body.revoked).toEqual({ grants: 2, tokens: 2 });
    expect(await isActive(broker.url, resource, a.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, b.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, bystander.access_token)).toBe(true);
  });

  it('revokes by client_id: every grant of the client, no other', async () => {
    const victim = await createClient(broker.url, {
      name: 'revoked agent',
      kind: 'agent',
      groups: [],
    });
    const a = await mintToken(broker.url, victim, [task(['read'])]);
    const b = await mintToken(broker.url, victim, [task(['search'])]);
    const bystander = await mintToken(broker.url, agent, [task(['read'])]);
    const res = await admin<Revoked>(broker.url, 'POST', '/admin/revocations', {
      client_id: victim.client_id,
      reason: 'test',
    });
    expect(res.status).toBe(200);
    expect(res.body.revoked).toEqual({ grants: 2, tokens: 2 });
    expect(await isActive(broker.url, resource, a.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, b.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, bystander.access_token)).toBe(true);
    const grants = await admin<{ grants: Array<{ status: string }> }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${victim.client_id}`,
    );
    expect(grants.body.grants.map((g) => g.status)).toEqual(['revoked', 'revoked']);
    // The client itself is not disabled: it may start a new task.
    expect((await requestToken(broker.url, victim, [task(['read'])])).status).toBe(200);
  });

  it('disabling a client makes its tokens inactive and refuses it new tokens (401 invalid_client)', async () => {
    const doomed = await createClient(broker.url, {
      name: 'disabled agent',
      kind: 'agent',
      groups: [],
    });
    const a = await mintToken(broker.url, doomed, [task(['read'])]);
    const b = await mintToken(broker.url, doomed, [task(['list'])]);
    const res = await admin<{
      client: { disabled: boolean };
      revoked: { grants: number; tokens: number };
    }>(broker.url, 'PATCH', `/admin/clients/${doomed.client_id}`, { disabled: true });
    expect(res.status).toBe(200);
    expect(res.body.client.disabled).toBe(true);
    expect(res.body.revoked).toEqual({ grants: 2, tokens: 2 });
    expect(await isActive(broker.url, resource, a.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, b.access_token)).toBe(false);

    const again = await requestToken(broker.url, doomed, [task(['read'])]);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
    expect(again.headers.get('www-authenticate')).toMatch(/^Basic /);
    const r = await refresh(broker.url, doomed, a.refresh_token);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
  });

  it('a disabled resource client learns nothing', async () => {
    const rs = await createClient(broker.url, {
      name: 'soon disabled rs',
      kind: 'resource',
      resources: ['https://crm.example.com'],
    });
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    expect(await isActive(broker.url, rs, tr.access_token)).toBe(true);
    expect(
      (await admin(broker.url, 'PATCH', `/admin/clients/${rs.client_id}`, { disabled: true }))
        .status,
    ).toBe(200);
    const res = await introspect(broker.url, rs, tr.access_token);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });
});
