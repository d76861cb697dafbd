// Human approval end to end: approval_required, CIBA polling with oauth4webapi, approve/deny/expiry, intent binding, resume.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
  isActive,
  refresh,
  requestToken,
  waitFor,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const DEFAULT_POLICY = readFileSync(
  resolve(import.meta.dirname, '../../config/policies/default.cedar'),
  'utf8',
);
const INTERVAL_SEC = 1;
const TTL_SEC = 10;
const OTHER = 'https://other.example.com';

interface ApprovalView {
  id: string;
  kind: string;
  client_id: string;
  task_id: string;
  grant_id?: string;
  intent: unknown[];
  pairs: Array<{ action: string; location: string; reasons: string[] }>;
  status: string;
  expires_at: number;
  interval: number;
  decided_by?: string;
  note?: string;
}

interface ApprovalRequired {
  error: string;
  auth_req_id: string;
  expires_in: number;
  interval: number;
}

let broker: TestBroker;
let base: string;
let agent: Credentials;
let resource: Credentials;
let poll: (authReqId: string) => Promise<PollResult>;

beforeAll(async () => {
  broker = await startTestBroker({
    worker: true,
    config: `${POLICY_CONFIG}\napprovals: { ttl: ${TTL_SEC}, interval: ${INTERVAL_SEC} }\nworker: { sweep_every_ms: 1000 }\n`,
  });
  base = broker.url;
  agent = await createClient(base, {
    name: 'exporting agent',
    kind: 'agent',
    groups: ['exporters', 'writers'],
  });
  resource = await createClient(base, { name: 'crm', kind: 'resource', resources: [CRM, OTHER] });
  poll = await cibaPoller(base, agent);
});

afterAll(async () => {
  await broker?.close();
});

function exportTask(
  taskId = `T-${Math.random().toString(36).slice(2, 10)}`,
  locations = [CRM],
  actions = ['read', 'export'],
) {
  return [{ type: 'agent_task', task_id: taskId, purpose: 'quarterly export', actions, locations }];
}

/** Asks for `details`; expects 400 approval_required and returns its body. */
async function askNeedingApproval(details: unknown[]): Promise<ApprovalRequired> {
  const res = await requestToken(base, agent, details);
  expect(res.status, res.text).toBe(400);
  const body = res.body as unknown as ApprovalRequired;
  expect(body.error).toBe('approval_required');
  return body;
}

async function pending(): Promise<ApprovalView[]> {
  const res = await admin<{ approvals: ApprovalView[] }>(
    base,
    'GET',
    '/admin/approvals?status=pending',
  );
  expect(res.status, res.text).toBe(200);
  return res.body.approvals;
}

function decideApproval(id: string, decision: 'approve' | 'deny', note?: string) {
  return admin<ApprovalView & { resumed?: boolean }>(
    base,
    'POST',
    `/admin/approvals/${encodeURIComponent(id)}`,
    { decision, ...(note ? { note } : {}) },
  );
}

/** Waits out the poll interval the broker asked for. */
const waitInterval = () => sleep(INTERVAL_SEC * 1000 + 150);

describe('approval_required and CIBA polling', () => {
  it('pending -> slow_down -> approved tokens with export, recorded, then invalid_grant', async () => {
    const details = exportTask();
    const asked = await askNeedingApproval(details);
    expect(asked.auth_req_id).toMatch(/^\S{16,}$/);
    expect(asked.interval).toBe(INTERVAL_SEC);
    // expires_in can come out TTL_SEC + 1 when a second boundary falls inside the request (see report).
    expect(asked.expires_in).toBeGreaterThanOrEqual(TTL_SEC - 1);
    expect(asked.expires_in).toBeLessThanOrEqual(TTL_SEC + 1);

    expect(await poll(asked.auth_req_id)).toMatchObject({
      ok: false,
      error: 'authorization_pending',
      status: 400,
    });
    expect(await poll(asked.auth_req_id)).toMatchObject({
      ok: false,
      error: 'slow_down',
      status: 400,
    });

    const listed = (await pending()).find((a) => a.id === asked.auth_req_id);
    expect(listed).toMatchObject({
      kind: 'mint',
      client_id: agent.client_id,
      status: 'pending',
      task_id: details[0]?.task_id,
    });
    expect(listed?.intent).toEqual(details);
    expect(listed?.pairs.map((p) => [p.action, p.location])).toEqual([['export', CRM]]);
    expect(listed?.pairs[0]?.reasons).toContain('export-needs-approval');

    const decided = await decideApproval(asked.auth_req_id, 'approve', 'ok');
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body).toMatchObject({ status: 'approved', decided_by: 'bootstrap', note: 'ok' });
    expect((await pending()).some((a) => a.id === asked.auth_req_id)).toBe(false);

    await waitInterval();
    const got = await poll(asked.auth_req_id);
    if (!got.ok) throw new Error(`expected tokens, got ${got.error}`);
    expect(got.tokens.token_type).toBe('bearer');
    expect(actionsOf(got.tokens.authorization_details as Array<{ actions: string[] }>)).toEqual([
      'export',
      'read',
    ]);
    const claims = claimsOf(got.tokens.access_token);
    expect(actionsOf(claims.authorization_details)).toEqual(['export', 'read']);
    expect(typeof got.tokens.refresh_token).toBe('string');
    expect(await isActive(base, resource, got.tokens.access_token)).toBe(true);

    const grant = await grantView(base, claims.grant_id);
    expect(grant.status).toBe('active');
    expect(grant.history.find((r) => r.kind === 'mint')).toMatchObject({
      outcome: 'permit',
      inputs: { approval: { id: asked.auth_req_id, decided_by: 'bootstrap' } },
    });

    await waitInterval();
    expect(await poll(asked.auth_req_id)).toMatchObject({ ok: false, error: 'invalid_grant' });
    // The same request asked again needs a new approval: one approval, one grant.
    const again = await askNeedingApproval(details);
    expect(again.auth_req_id).not.toBe(asked.auth_req_id);
  });

  it("the grant's history holds the approval record naming the approver", async () => {
    const asked = await askNeedingApproval(exportTask());
    expect((await decideApproval(asked.auth_req_id, 'approve', 'ok')).status).toBe(200);
    const got = await poll(asked.auth_req_id);
    if (!got.ok) throw new Error(`expected tokens, got ${got.error}`);
    const grant = await grantView(base, String(got.tokens.grant_id));
    // The approval is recorded again once it makes the grant, so the grant's own history names it.
    expect(grant.history.map((r) => r.kind)).toContain('mint');
    expect(grant.history.find((r) => r.kind === 'approval')).toMatchObject({
      grant_id: grant.id,
      inputs: { by: 'bootstrap', note: 'ok', approval_id: asked.auth_req_id },
    });
  });

  it('deny -> access_denied', async () => {
    const asked = await askNeedingApproval(exportTask());
    const decided = await decideApproval(asked.auth_req_id, 'deny', 'not today');
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body.status).toBe('denied');
    expect(await poll(asked.auth_req_id)).toMatchObject({ ok: false, error: 'access_denied' });
    // Deciding twice is refused.
    expect((await decideApproval(asked.auth_req_id, 'approve')).status).toBe(409);
    await waitInterval();
    expect(await poll(asked.auth_req_id)).toMatchObject({ ok: false, error: 'access_denied' });
  });

  it("another agent cannot poll (or learn about) someone else's auth_req_id", async () => {
    const asked = await askNeedingApproval(exportTask());
    const other = await createClient(base, {
      name: 'other agent',
      kind: 'agent',
      groups: ['exporters'],
    });
    const otherPoll = await cibaPoller(base, other);
    expect(await otherPoll(asked.auth_req_id)).toMatchObject({ ok: false, error: 'invalid_grant' });
    expect(await otherPoll('ar_does-not-exist')).toMatchObject({
      ok: false,
      error: 'invalid_grant',
    });
  });

  it('is bound to the exact intent: another location or other actions get a new auth_req_id, not covered by the first', async () => {
    const taskId = `T-bound-${Math.random().toString(36).slice(2, 8)}`;
    const first = await askNeedingApproval(exportTask(taskId));
    // The same intent again: the same pending request.
    expect((await askNeedingApproval(exportTask(taskId))).auth_req_id).toBe(first.auth_req_id);
    const otherLocation = await askNeedingApproval(exportTask(taskId, [OTHER]));
    const otherActions = await askNeedingApproval(exportTask(taskId, [CRM], ['export']));
    expect(
      new Set([first.auth_req_id, otherLocation.auth_req_id, otherActions.auth_req_id]).size,
    ).toBe(3);

    expect((await decideApproval(first.auth_req_id, 'approve')).status).toBe(200);
    const got = await poll(first.auth_req_id);
    if (!got.ok) throw new Error(`expected tokens, got ${got.error}`);
    const granted = got.tokens.authorization_details as Array<{ locations: string[] }>;
    expect([...new Set(granted.flatMap((e) => e.locations))]).toEqual([CRM]);

    expect(await poll(otherLocation.auth_req_id)).toMatchObject({
      ok: false,
      error: 'authorization_pending',
    });
    expect(await poll(otherActions.auth_req_id)).toMatchObject({
      ok: false,
      error: 'authorization_pending',
    });
    const stillPending = (await pending()).map((a) => a.id);
    expect(stillPending).toEqual(
      expect.arrayContaining([otherLocation.auth_req_id, otherActions.auth_req_id]),
    );
    // A fresh request for the other location still needs its own approval.
    expect((await askNeedingApproval(exportTask(taskId, [OTHER]))).auth_req_id).toBe(
      otherLocation.auth_req_id,
    );
  });

  it('GET /admin/approvals?status=pending still lists an older pending request behind 100 newer decided ones', async () => {
    const old = await askNeedingApproval(exportTask());
    // The index is ordered by expiry: make the old request's strictly earlier.
    await sleep(1100);
    for (let i = 0; i < 100; i += 1) {
      const asked = await askNeedingApproval(exportTask());
      expect((await decideApproval(asked.auth_req_id, 'deny')).status).toBe(200);
    }
    // Newer decided approvals must not push an older pending one out of the pending list.
    expect((await pending()).map((a) => a.id)).toContain(old.auth_req_id);
  });
});

// Both wait out approvals.ttl, so they wait together.
describe.concurrent('expiry', () => {
  it(`an unanswered request expires after approvals.ttl (${TTL_SEC} s): expired_token`, {
    timeout: 30_000,
  }, async ({ expect }) => {
    const asked = await askNeedingApproval(exportTask());
    expect(await poll(asked.auth_req_id)).toMatchObject({
      ok: false,
      error: 'authorization_pending',
    });
    await sleep(asked.expires_in * 1000 + 1200);
    expect(await poll(asked.auth_req_id)).toMatchObject({ ok: false, error: 'expired_token' });
    expect((await pending()).some((a) => a.id === asked.auth_req_id)).toBe(false);
    // Too late to approve.
    expect((await decideApproval(asked.auth_req_id, 'approve')).status).toBe(410);
  });

  it('an approved request not collected within its expires_in is expired_token too (CIBA)', {
    timeout: 30_000,
  }, async ({ expect }) => {
    const asked = await askNeedingApproval(exportTask());
    expect((await decideApproval(asked.auth_req_id, 'approve')).status).toBe(200);
    await sleep(asked.expires_in * 1000 + 1200);
    // An approval not collected before it expires cannot be collected later.
    expect(await poll(asked.auth_req_id)).toMatchObject({ ok: false, error: 'expired_token' });
  });
});

describe('a grant suspended by re-evaluation', () => {
  it('shows suspended, opens a resume approval, and approving it makes the grant active again', {
    timeout: 30_000,
  }, async () => {
    const res = await requestToken(base, agent, [
      {
        type: 'agent_task',
        task_id: `T-resume-${Math.random().toString(36).slice(2, 8)}`,
        actions: ['delete'],
        locations: [CRM],
      },
    ]);
    expect(res.status, res.text).toBe(200);
    const t = res.body;
    expect(await isActive(base, resource, t.access_token)).toBe(true);

    // The only deny for the held pair is a forbid a human can lift.
    const put = await admin(base, 'PUT', '/admin/policies', {
      policies: `${DEFAULT_POLICY}\n@id("delete-needs-approval")\n@remedy("approval")\nforbid (principal, action == Action::"delete", resource) unless { context.approved };\n`,
    });
    expect(put.status, put.text).toBe(200);

    expect(
      await waitFor(async () => (await grantView(base, t.grant_id)).status === 'suspended', 10_000),
    ).toBe(true);
    expect(await isActive(base, resource, t.access_token)).toBe(false);
    const suspended = await grantView(base, t.grant_id);
    expect(
      suspended.history.filter((r) => r.kind === 'reevaluation').map((r) => r.outcome),
    ).toEqual(['suspend']);

    let resume: ApprovalView | undefined;
    expect(
      await waitFor(async () => {
        resume = (await pending()).find((a) => a.grant_id === t.grant_id);
        return resume !== undefined;
      }, 5_000),
    ).toBe(true);
    expect(resume).toMatchObject({ kind: 'resume', client_id: agent.client_id });
    expect(resume?.pairs.map((p) => p.action)).toEqual(['delete']);
    // A resume approval is for approvers, not something the agent can poll.
    expect(await poll(resume?.id ?? '')).toMatchObject({ ok: false, error: 'invalid_grant' });
    // Refresh is refused while suspended.
    expect((await refresh(base, agent, t.refresh_token)).status).toBe(400);

    const decided = await decideApproval(resume?.id ?? '', 'approve', 'resume it');
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body).toMatchObject({ status: 'approved', resumed: true });
    expect((await grantView(base, t.grant_id)).status).toBe('active');

    const refreshed = await refresh(base, agent, t.refresh_token);
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(actionsOf(refreshed.body.authorization_details)).toEqual(['delete']);
    expect(await isActive(base, resource, refreshed.body.access_token)).toBe(true);

    // Later sweeps keep it (the approval lifted the forbid for this grant).
    await sleep(2200);
    const after = await grantView(base, t.grant_id);
    expect(after.status).toBe('active');
    expect(after.history.filter((r) => r.kind === 'reevaluation').map((r) => r.outcome)).toEqual([
      'suspend',
    ]);
    expect(after.history.find((r) => r.kind === 'approval')).toMatchObject({
      outcome: 'approved',
      inputs: { by: 'bootstrap', approval_kind: 'resume', resumed: true },
    });
  });
});
