// Revocation as the SDK and the guard see it, against a real broker: getToken never hands out a token of a grant it knows is revoked, RFC 6750 codes at the guard, and the default guard refusing a request sent 1 s after an admin revocation.
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MandateVariables, requireMandate } from '../../src/client/hono.ts';
import { createMandateClient } from '../../src/client/mandate-client.ts';
import { GrantRevokedError } from '../../src/client/mandate-error.ts';
import { createMandateGuard } from '../../src/client/mandate-guard.ts';
import { admin, CRM, type Credentials } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;
let agent: Credentials;
let crm: Credentials;

beforeAll(async () => {
  broker = await startTestBroker({ name: 'sdkrev' });
  agent = await broker.client({ name: 'writer agent', kind: 'agent', groups: ['writers'] });
  crm = await broker.client({ name: 'CRM', kind: 'resource', resources: [CRM] });
});

afterAll(async () => {
  await broker?.close();
});

const taskId = () => `T-${Math.random().toString(36).slice(2, 10)}`;
const sdk = () =>
  createMandateClient({
    issuer: broker.issuer,
    clientId: agent.client_id,
    clientSecret: agent.client_secret,
  });
const startRead = () => sdk().startTask({ task_id: taskId(), actions: ['read'], locations: [CRM] });

/** A guard with default settings, counting the evaluations it asks the broker for. */
function defaultGuard() {
  const calls = { evaluations: 0 };
  const guard = createMandateGuard({
    issuer: broker.issuer,
    clientId: crm.client_id,
    clientSecret: crm.client_secret,
    resource: CRM,
    action: 'read',
    fetch: (input, init) => {
      if (String(input).endsWith('/access/v1/evaluation')) calls.evaluations += 1;
      return fetch(input, init);
    },
  });
  return { guard, calls };
}

const revoke = async (what: { grant_id: string } | { jti: string }) => {
  const res = await admin(broker.url, 'POST', '/admin/revocations', {
    ...what,
    reason: 'sdk revocation test',
  });
  expect(res.status).toBe(200);
};

describe('task.getToken() after a revocation', () => {
  it('throws GrantRevokedError once the caller reports the 401 the resource answered', async () => {
    const { guard } = defaultGuard();
    const task = await startRead();
    const token = await task.getToken();
    expect((await guard.check(`Bearer ${token}`)).ok).toBe(true);
    await revoke({ grant_id: task.grantId });

    const refused = await guard.check(`Bearer ${token}`, { action: 'write' });
    expect(refused).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    task.reportRejected(token);
    const err = await task.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrantRevokedError);
    expect(err).toMatchObject({ code: 'grant_revoked', grantId: task.grantId });
    // Known revoked: every later call throws too, without asking the broker again.
    await expect(task.getToken()).rejects.toBeInstanceOf(GrantRevokedError);
    await expect(task.headersFor('GET', CRM)).rejects.toBeInstanceOf(GrantRevokedError);
    guard.close();
  });

  it('throws GrantRevokedError at the next refresh without any report', async () => {
    let offsetMs = 0;
    const task = await createMandateClient({
      issuer: broker.issuer,
      clientId: agent.client_id,
      clientSecret: agent.client_secret,
      now: () => Date.now() + offsetMs,
    }).startTask({ task_id: taskId(), actions: ['read'], locations: [CRM] });
    await task.getToken();
    await revoke({ grant_id: task.grantId });
    offsetMs = 290_000; // the 300 s token is due for refresh
    await expect(task.getToken()).rejects.toBeInstanceOf(GrantRevokedError);
  });

  it('gets a fresh token when only the rejected token was revoked, and ignores a stale report', async () => {
    const { guard } = defaultGuard();
    const task = await startRead();
    const first = await task.getToken();
    await revoke({ jti: String(decodeJwt(first).jti) });
    expect(await guard.check(`Bearer ${first}`)).toMatchObject({ status: 401 });

    task.reportRejected(first);
    const second = await task.getToken();
    expect(second).not.toBe(first);
    expect((await guard.check(`Bearer ${second}`)).ok).toBe(true);
    // A late report about the old token does not throw the new one away.
    task.reportRejected(first);
    expect(await task.getToken()).toBe(second);
    await task.end();
    guard.close();
  });
});

describe('the guard with default settings', () => {
  it('answers 401 invalid_token for a revoked grant and 403 insufficient_scope for an ungranted action', async () => {
    const { guard } = defaultGuard();
    const task = await startRead();
    const token = await task.getToken();
    const write = await guard.check(`Bearer ${token}`, { action: 'write' });
    expect(write).toMatchObject({ ok: false, status: 403, error: 'insufficient_scope' });
    if (!write.ok) expect(write.wwwAuthenticate).toContain('error="insufficient_scope"');

    await revoke({ grant_id: task.grantId });
    const read = await guard.check(`Bearer ${token}`);
    expect(read).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    if (!read.ok)
      expect(read.wwwAuthenticate).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
    guard.close();
  });

  it('answers 401 invalid_token once the agent is disabled (its grants revoked)', async () => {
    const other = await broker.client({ name: 'disposable agent', kind: 'agent' });
    const task = await createMandateClient({
      issuer: broker.issuer,
      clientId: other.client_id,
      clientSecret: other.client_secret,
    }).startTask({ task_id: taskId(), actions: ['read'], locations: [CRM] });
    const { guard } = defaultGuard();
    const token = await task.getToken();
    expect((await guard.check(`Bearer ${token}`)).ok).toBe(true);
    const patched = await admin(broker.url, 'PATCH', `/admin/clients/${other.client_id}`, {
      disabled: true,
    });
    expect(patched.status).toBe(200);
    await sleep(600);
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({ status: 401 });
    guard.close();
  });

  it('refuses a request sent one second after an admin revocation, though it cached the permit', async () => {
    const { guard, calls } = defaultGuard();
    const task = await startRead();
    const header = `Bearer ${await task.getToken()}`;
    expect((await guard.check(header)).ok).toBe(true);
    expect((await guard.check(header)).ok).toBe(true);
    expect(calls.evaluations).toBe(1); // the second request was served from the permit cache

    await revoke({ grant_id: task.grantId });
    await sleep(1000);
    expect(await guard.check(header)).toMatchObject({ ok: false, status: 401 });
    expect(calls.evaluations).toBe(2);
    guard.close();
  });

  it('does the same behind requireMandate on a Hono route, answering 401 with the challenge', async () => {
    const { guard } = defaultGuard();
    const app = new Hono<{ Variables: MandateVariables }>();
    app.use('/notes/*', requireMandate({ guard, action: 'read' }));
    app.get('/notes/:id', (c) => c.json({ grant: c.var.mandate.grant_id }));
    const task = await startRead();
    const headers = { authorization: `Bearer ${await task.getToken()}` };
    expect((await app.request('/notes/1', { headers })).status).toBe(200);
    await revoke({ grant_id: task.grantId });
    await sleep(1000);
    const res = await app.request('/notes/1', { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    guard.close();
  });
});
