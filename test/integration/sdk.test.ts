// The agent SDK and the resource guard against a real broker and Redis, over sockets.
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MandateVariables, requireMandate } from '../../src/client/hono.ts';
import { createMandateClient } from '../../src/client/mandate-client.ts';
import { GrantRevokedError, MandateError } from '../../src/client/mandate-error.ts';
import { createMandateGuard } from '../../src/client/mandate-guard.ts';
import { admin, CRM, type Credentials, createClient, isActive } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const MAIL = 'https://mail.example.com';

let broker: TestBroker;
let writer: Credentials;
let reader: Credentials;
let crm: Credentials;

beforeAll(async () => {
  broker = await startTestBroker();
  writer = await createClient(broker.url, {
    name: 'writer agent',
    kind: 'agent',
    groups: ['writers'],
  });
  reader = await createClient(broker.url, { name: 'reader agent', kind: 'agent' });
  crm = await createClient(broker.url, { name: 'CRM', kind: 'resource', resources: [CRM] });
});

afterAll(async () => {
  await broker?.close();
});

const sdkFor = (agent: Credentials, now?: () => number) =>
  createMandateClient({
    issuer: broker.issuer,
    clientId: agent.client_id,
    clientSecret: agent.client_secret,
    ...(now ? { now } : {}),
  });

const guardFor = (over: { cacheTtlMs?: number } = {}) =>
  createMandateGuard({
    issuer: broker.issuer,
    clientId: crm.client_id,
    clientSecret: crm.client_secret,
    resource: CRM,
    action: 'read',
    ...over,
  });

const taskId = () => `T-${Math.random().toString(36).slice(2, 10)}`;

describe('createMandateClient with a live broker', () => {
  it('runs a task with a live token and ends its grant when the task returns', async () => {
    let token = '';
    const grantId = await sdkFor(writer).withTask(
      { task_id: taskId(), actions: ['read', 'write'], locations: [CRM] },
      async (task) => {
        token = await task.getToken();
        expect(await isActive(broker.url, crm, token)).toBe(true);
        expect(task.authorizationDetails.flatMap((d) => d.actions).sort()).toEqual([
          'read',
          'write',
        ]);
        return task.grantId;
      },
    );
    expect(await isActive(broker.url, crm, token)).toBe(false);
    const grant = await admin<{ status: string }>(broker.url, 'GET', `/admin/grants/${grantId}`);
    expect(grant.body.status).toBe('revoked');
  });

  it('shows the narrowed grant when policy permits only part of the intent', async () => {
    await sdkFor(reader).withTask(
      { task_id: taskId(), actions: ['read', 'write'], locations: [CRM] },
      (task) => {
        expect(task.authorizationDetails.flatMap((d) => d.actions)).toEqual(['read']);
      },
    );
  });

  it('refreshes before expiry with rotating refresh tokens, and reports a revoked grant as GrantRevokedError', async () => {
    let offsetMs = 0;
    const task = await sdkFor(writer, () => Date.now() + offsetMs).startTask({
      task_id: taskId(),
      actions: ['read'],
      locations: [CRM],
    });
    const first = await task.getToken();
    offsetMs = 290_000; // 300 s tokens: due for refresh
    const second = await task.getToken();
    expect(second).not.toBe(first);
    expect(await isActive(broker.url, crm, second)).toBe(true);
    offsetMs = 580_000; // a second refresh only works if the rotated refresh token was kept
    const third = await task.getToken();
    expect(third).not.toBe(second);
    expect(await isActive(broker.url, crm, third)).toBe(true);

    await admin(broker.url, 'POST', '/admin/revocations', {
      grant_id: task.grantId,
      reason: 'sdk test',
    });
    offsetMs = 870_000;
    const err = await task.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrantRevokedError);
    expect(err).toMatchObject({ code: 'grant_revoked', grantId: task.grantId });
    await task.end();
  });

  it('throws MandateError access_denied when policy permits nothing', async () => {
    const err = await sdkFor(reader)
      .withTask({ task_id: taskId(), actions: ['deploy'], locations: [CRM] }, () => 'never')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MandateError);
    expect(err).toMatchObject({ code: 'request_refused', error: 'access_denied' });
  });

  it('throws request_refused invalid_client for a wrong secret', async () => {
    const sdk = createMandateClient({
      issuer: broker.issuer,
      clientId: writer.client_id,
      clientSecret: 'wrong',
    });
    await expect(
      sdk.startTask({ task_id: taskId(), actions: ['read'], locations: [CRM] }),
    ).rejects.toMatchObject({
      code: 'request_refused',
      error: 'invalid_client',
    });
  });
});

describe('createMandateGuard with a live broker', () => {
  it('permits a granted action, refuses another action, and refuses a foreign audience', async () => {
    const guard = guardFor();
    await sdkFor(writer).withTask(
      { task_id: taskId(), actions: ['read'], locations: [CRM] },
      async (task) => {
        const ok = await guard.check(`Bearer ${await task.getToken()}`);
        expect(ok.ok).toBe(true);
        if (ok.ok) expect(ok.claims.grant_id).toBe(task.grantId);
        expect(
          await guard.check(`Bearer ${await task.getToken()}`, { action: 'write' }),
        ).toMatchObject({
          ok: false,
          status: 403,
          error: 'insufficient_scope',
        });
      },
    );
    await sdkFor(writer).withTask(
      { task_id: taskId(), actions: ['read'], locations: [MAIL] },
      async (task) => {
        expect(await guard.check(`Bearer ${await task.getToken()}`)).toMatchObject({
          ok: false,
          status: 401,
          error: 'invalid_token',
        });
      },
    );
    guard.close();
  });

  it('stops permitting once the grant is revoked and the guard is told', async () => {
    const guard = guardFor({ cacheTtlMs: 5000 });
    const task = await sdkFor(writer).startTask({
      task_id: taskId(),
      actions: ['read'],
      locations: [CRM],
    });
    const header = `Bearer ${await task.getToken()}`;
    expect((await guard.check(header)).ok).toBe(true);
    await admin(broker.url, 'POST', '/admin/revocations', {
      grant_id: task.grantId,
      reason: 'guard test',
    });
    expect(guard.invalidate({ grant_id: task.grantId })).toBe(1);
    const after = await guard.check(header);
    expect(after.ok).toBe(false);
    guard.close();
  });

  it('fails closed with 503 when the broker is unreachable', async () => {
    const guard = createMandateGuard({
      issuer: 'http://127.0.0.1:1',
      clientId: crm.client_id,
      clientSecret: crm.client_secret,
      resource: CRM,
      action: 'read',
      timeoutMs: 500,
    });
    const token = await sdkFor(writer).withTask(
      { task_id: taskId(), actions: ['read'], locations: [CRM] },
      (t) => t.getToken(),
    );
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 503 });
  });

  it('guards a Hono route through requireMandate', async () => {
    const app = new Hono<{ Variables: MandateVariables }>();
    app.use(
      '/notes/*',
      requireMandate({
        guard: guardFor(),
        action: (c) => (c.req.method === 'GET' ? 'read' : 'write'),
      }),
    );
    app.get('/notes/:id', (c) => c.json({ grant: c.get('mandate').grant_id }));
    app.post('/notes/:id', (c) => c.json({ ok: true }));
    await sdkFor(reader).withTask(
      { task_id: taskId(), actions: ['read', 'write'], locations: [CRM] },
      async (task) => {
        const headers = { authorization: `Bearer ${await task.getToken()}` };
        const read = await app.request('/notes/1', { headers });
        expect(read.status).toBe(200);
        expect(await read.json()).toEqual({ grant: task.grantId });
        const write = await app.request('/notes/1', { method: 'POST', headers });
        expect(write.status).toBe(403);
        expect(write.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      },
    );
    expect((await app.request('/notes/1')).status).toBe(401);
  });
});
