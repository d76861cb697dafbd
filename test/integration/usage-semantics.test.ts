// The contract's usage facts over real HTTP and Redis with a broker clock the test moves:
// `usage.new_action` holds its meaning at mint, approval and re-evaluation, and
// `calls_last_minute` / `denied_last_hour` are trailing windows, not calendar minutes and hours.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecisionRecordView,
  decisionsOfGrant,
  evaluate,
  evaluationRequest,
  grantView,
  POLICY_CONFIG,
} from '../support/action-time.ts';
import {
  admin,
  CRM,
  type Credentials,
  createClients,
  mintToken,
  oauthPost,
  refresh,
  requestToken,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const HOUR_MS = 3_600_000;

/** The broker's clock: epoch ms the test sets; it only moves forward. */
let nowMs = Date.now();
const clock = { nowMs: () => nowMs };
const setClock = (ms: number) => {
  if (ms < nowMs) throw new Error('the test clock only moves forward');
  nowMs = ms;
};

let broker: TestBroker;
let base: string;

beforeAll(async () => {
  broker = await startTestBroker({ config: `${POLICY_CONFIG}\n`, clock });
  base = broker.url;
});

afterAll(async () => {
  await broker?.close();
});

async function putPolicy(lines: string[]): Promise<void> {
  const res = await admin(base, 'PUT', '/admin/policies', { policies: lines.join('\n') });
  expect(res.status, res.text).toBe(200);
}

const PERMIT_ALL = '@id("all") permit (principal, action, resource);';
const FORBID_NEW =
  '@id("new-action") forbid (principal, action, resource) when { context.usage.new_action };';
const APPROVE_NEW =
  '@id("new-action-approval") @remedy("approval") forbid (principal, action, resource) when { context.usage.new_action && !context.approved };';

async function decide(resource: Credentials, agent: Credentials, token: string, action: string) {
  const res = await evaluate(
    base,
    resource,
    evaluationRequest(agent.client_id, token, action, CRM),
  );
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The evaluation record an answer names. */
async function recordOf(
  grantId: string,
  decisionId: string | undefined,
): Promise<DecisionRecordView | undefined> {
  return (await decisionsOfGrant(base, grantId)).find((r) => r.id === decisionId);
}

const actionsOf = (details: ReadonlyArray<{ actions: string[] }>) =>
  [...new Set(details.flatMap((d) => d.actions))].sort();

describe('usage.new_action outside evaluations', () => {
  it('at mint: a policy forbidding never-used actions narrows them out, or denies when none is left', async () => {
    await putPolicy([PERMIT_ALL]);
    const { agent, resource } = await createClients(base);
    const first = await mintToken(base, agent, [task(['read'])]);
    expect((await decide(resource, agent, first.access_token, 'read')).decision).toBe(true);

    await putPolicy([PERMIT_ALL, FORBID_NEW]);
    const narrowed = await mintToken(base, agent, [task(['read', 'write'])]);
    expect(actionsOf(narrowed.authorization_details)).toEqual(['read']);
    const mint = (await decisionsOfGrant(base, narrowed.grant_id)).find((r) => r.kind === 'mint');
    expect(mint).toMatchObject({
      outcome: 'narrow',
      inputs: { usage: { new_actions: ['write'] } },
    });
    expect(mint?.reasons).toContain('new-action');

    const denied = await requestToken(base, agent, [task(['write'])]);
    expect(denied.body.error, String(denied.status)).toBe('access_denied');
    // Another agent's history is not this one's: read is new to it.
    const other = (await createClients(base)).agent;
    expect((await requestToken(base, other, [task(['read'])])).body.error).toBe('access_denied');
  });

  it('at mint: @remedy("approval") on never-used actions opens an approval, and the approved token holds them', async () => {
    await putPolicy([PERMIT_ALL]);
    const { agent, resource } = await createClients(base);
    const first = await mintToken(base, agent, [task(['read'])]);
    expect((await decide(resource, agent, first.access_token, 'read')).decision).toBe(true);

    await putPolicy([PERMIT_ALL, APPROVE_NEW]);
    const asked = await requestToken(base, agent, [task(['read', 'write'])]);
    expect(asked.body.error, String(asked.status)).toBe('approval_required');
    const id = asked.body.auth_req_id as string;
    const listed = await admin<{
      approvals: Array<{ id: string; pairs: Array<{ action: string; reasons: string[] }> }>;
    }>(base, 'GET', '/admin/approvals?status=pending');
    expect(listed.body.approvals.find((a) => a.id === id)?.pairs).toEqual([
      { action: 'write', location: CRM, reasons: ['new-action-approval'] },
    ]);
    expect(
      (
        await admin(base, 'POST', `/admin/approvals/${encodeURIComponent(id)}`, {
          decision: 'approve',
        })
      ).status,
    ).toBe(200);
    const got = await oauthPost(
      base,
      '/oauth/token',
      { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: id },
      agent,
    );
    expect(got.status, got.text).toBe(200);
    expect(actionsOf(got.body.authorization_details as Array<{ actions: string[] }>)).toEqual([
      'read',
      'write',
    ]);
  });

  it('at refresh: a grant action never used is narrowed out once policy forbids new actions', async () => {
    await putPolicy([PERMIT_ALL]);
    const { agent, resource } = await createClients(base);
    const t = await mintToken(base, agent, [task(['read', 'write'])]);
    expect((await decide(resource, agent, t.access_token, 'read')).decision).toBe(true);
    await putPolicy([PERMIT_ALL, FORBID_NEW]);
    const refreshed = await refresh(base, agent, t.refresh_token);
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(actionsOf(refreshed.body.authorization_details)).toEqual(['read']);
  });

  it('at re-evaluation (signal-triggered): narrows out a never-used action; with @remedy("approval") suspends and opens the approval', async () => {
    await putPolicy([PERMIT_ALL]);
    const { agent, resource } = await createClients(base);
    const both = await mintToken(base, agent, [task(['read', 'write'])]);
    const writeOnly = await mintToken(base, agent, [task(['write'])]);
    expect((await decide(resource, agent, both.access_token, 'read')).decision).toBe(true);

    await putPolicy([PERMIT_ALL, FORBID_NEW]);
    const nudged = await admin(base, 'POST', '/v1/signals', {
      grant_id: both.grant_id,
      type: 'test_nudge',
    });
    expect(nudged.status, nudged.text).toBe(202);
    const narrowed = await grantView(base, both.grant_id);
    expect(actionsOf(narrowed.granted)).toEqual(['read']);
    const record = (await decisionsOfGrant(base, both.grant_id)).find(
      (r) => r.kind === 'reevaluation',
    );
    expect(record).toMatchObject({
      outcome: 'narrow',
      inputs: { usage: { new_actions: ['write'] } },
    });

    await putPolicy([PERMIT_ALL, APPROVE_NEW]);
    expect(
      (
        await admin(base, 'POST', '/v1/signals', {
          grant_id: writeOnly.grant_id,
          type: 'test_nudge',
        })
      ).status,
    ).toBe(202);
    expect((await grantView(base, writeOnly.grant_id)).status).toBe('suspended');
    const pending = await admin<{ approvals: Array<{ kind: string; grant_id?: string }> }>(
      base,
      'GET',
      '/admin/approvals?status=pending',
    );
    expect(
      pending.body.approvals.some((a) => a.kind === 'resume' && a.grant_id === writeOnly.grant_id),
    ).toBe(true);
    // Once used, an action is not new: re-evaluated again, the narrowed grant keeps read.
    const again = await admin<{ reevaluated: { keep: number } }>(base, 'POST', '/v1/signals', {
      grant_id: both.grant_id,
      type: 'test_nudge',
    });
    expect(again.body.reevaluated.keep, again.text).toBe(1);
    expect((await grantView(base, both.grant_id)).status).toBe('active');
    expect(actionsOf((await grantView(base, both.grant_id)).granted)).toEqual(['read']);
  });
});

describe('trailing usage windows', () => {
  /** The next hour boundary at least an hour ahead of the clock (also a minute boundary). */
  const hourAhead = () => Math.ceil(nowMs / HOUR_MS + 1) * HOUR_MS;

  it("calls_last_minute: a burst across a minute boundary is one minute's burst, and calls leave after 60 s", async () => {
    const N = 5;
    await putPolicy([
      PERMIT_ALL,
      `@id("burst") forbid (principal, action, resource) when { context.usage.calls_last_minute > ${N} };`,
    ]);
    const { agent, resource } = await createClients(base);
    const edge = hourAhead();
    setClock(edge - 30_000);
    const t = await mintToken(base, agent, [task(['read'])]);
    const call = () => decide(resource, agent, t.access_token, 'read');

    setClock(edge - 500);
    for (let i = 0; i < N; i++) expect((await call()).decision).toBe(true);
    setClock(edge + 500);
    const after = [];
    for (let i = 0; i < N; i++) after.push(await call());
    expect(after.map((a) => a.decision)).toEqual(Array(N).fill(false));
    const last = await recordOf(t.grant_id, after.at(-1)?.context?.decision_id);
    expect(last).toMatchObject({
      outcome: 'deny',
      reasons: ['policy_denied', 'burst'],
      inputs: { usage: { calls_last_minute: 2 * N } },
    });

    // 61 s after the first burst it has left the window; the second has not.
    setClock(edge - 500 + 61_000);
    const later = await call();
    expect(later.decision).toBe(false);
    expect((await recordOf(t.grant_id, later.context?.decision_id))?.inputs.usage).toMatchObject({
      calls_last_minute: N + 1,
    });
    // And 61 s after the second, only the last call is left.
    setClock(edge + 500 + 61_000);
    const quiet = await call();
    expect(quiet.decision).toBe(true);
    // Recorded as the count, or (decided from a snapshot) as the range it held for: 2 either way.
    const quietRecord = await recordOf(t.grant_id, quiet.context?.decision_id);
    const counted = (quietRecord?.inputs.usage as { calls_last_minute?: unknown } | undefined)
      ?.calls_last_minute;
    const range =
      typeof counted === 'number'
        ? { min: counted, max: counted }
        : (counted as { min: number; max?: number });
    expect(
      range.min <= 2 && 2 <= (range.max ?? Number.POSITIVE_INFINITY),
      JSON.stringify(counted),
    ).toBe(true);
  });

  it('denied_last_hour: denials across an hour boundary count together, for an hour and no longer', async () => {
    await putPolicy([
      PERMIT_ALL,
      // Write is granted at mint (no call counted there) and denied at every evaluation.
      '@id("no-write") forbid (principal, action == Action::"write", resource) when { context.usage.calls_last_minute > 0 };',
      '@id("probing") forbid (principal, action, resource) when { context.usage.denied_last_hour > 3 };',
    ]);
    const { agent, resource } = await createClients(base);
    const edge = hourAhead();
    setClock(edge - 30_000);
    const t = await mintToken(base, agent, [task(['read', 'write'], { ttl: 7200 })]);
    const call = (token: string, action: string) => decide(resource, agent, token, action);
    const usageOf = async (answer: { context?: { decision_id?: string } }) =>
      (await recordOf(t.grant_id, answer.context?.decision_id))?.inputs.usage;

    setClock(edge - 500);
    for (let i = 0; i < 2; i++) expect((await call(t.access_token, 'write')).decision).toBe(false);
    setClock(edge + 500);
    for (let i = 0; i < 2; i++) expect((await call(t.access_token, 'write')).decision).toBe(false);
    // Four denials within a second of each other, across the hour boundary: probing.
    const probing = await call(t.access_token, 'read');
    expect(probing.decision).toBe(false);
    expect(await usageOf(probing)).toMatchObject({ denied_last_hour: 4 });

    // The access token lives minutes; the grant two hours.
    setClock(edge + 3_590_000);
    const renewed = await refresh(base, agent, t.refresh_token);
    expect(renewed.status, renewed.text).toBe(200);
    const token = renewed.body.access_token;
    // 59:59.5 after the first denials, all five still count.
    setClock(edge - 500 + 3_599_900);
    const stillProbing = await call(token, 'read');
    expect(stillProbing.decision).toBe(false);
    expect(await usageOf(stillProbing)).toMatchObject({ denied_last_hour: 5 });
    // An hour and a minute on, the two before the boundary have left; the rest stay.
    setClock(edge + 3_630_000);
    const fewer = await call(token, 'read');
    expect(await usageOf(fewer)).toMatchObject({ denied_last_hour: 4 });
    setClock(edge + 3_690_000);
    const clear = await call(token, 'read');
    expect(clear.decision).toBe(true);
    expect(await usageOf(clear)).toMatchObject({ denied_last_hour: 2 });
  });
});
