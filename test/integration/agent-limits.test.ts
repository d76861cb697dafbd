// Per-agent caps: live grants and pending approval requests, checked atomically where they are
// created; beyond a cap the token endpoint answers 400 access_denied and creates nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_CONFIG } from '../support/action-time.ts';
import {
  admin,
  CRM,
  type Credentials,
  createClient,
  mintToken,
  oauthPost,
  refresh,
  requestToken,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const MAX_GRANTS = 3;
const MAX_PENDING = 2;

let broker: TestBroker;
let base: string;

beforeAll(async () => {
  broker = await startTestBroker({
    config: `${POLICY_CONFIG}\nlimits: { max_live_grants_per_agent: ${MAX_GRANTS}, max_pending_approvals_per_agent: ${MAX_PENDING} }\napprovals: { ttl: 30, interval: 1 }\n`,
  });
  base = broker.url;
});

afterAll(async () => {
  await broker?.close();
});

const agentNamed = (name: string, groups: string[] = ['writers']) =>
  createClient(base, { name, kind: 'agent', groups });

async function grantsOf(agent: Credentials): Promise<Array<{ id: string; status: string }>> {
  const res = await admin<{ grants: Array<{ id: string; status: string }> }>(
    base,
    'GET',
    `/admin/grants?client_id=${agent.client_id}&limit=100`,
  );
  expect(res.status, res.text).toBe(200);
  return res.body.grants;
}

/** Expects the mint to be refused by the live-grant cap: 400 access_denied, no token. */
async function expectGrantCap(agent: Credentials, details = [task(['read'])]) {
  const res = await requestToken(base, agent, details);
  expect(res.status, res.text).toBe(400);
  expect(res.body.error).toBe('access_denied');
  expect(res.body.error_description).toMatch(/too many live grants/);
  expect(res.body.access_token).toBeUndefined();
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('max_live_grants_per_agent', () => {
  it('refuses the grant beyond the cap, creating nothing, and only for that agent', async () => {
    const agent = await agentNamed('capped');
    const minted = [];
    for (let i = 0; i < MAX_GRANTS; i += 1)
      minted.push(await mintToken(base, agent, [task(['read'])]));
    await expectGrantCap(agent);
    const grants = await grantsOf(agent);
    expect(grants.map((g) => g.id).sort()).toEqual(minted.map((m) => m.grant_id).sort());
    // The refusal is in the log, against the grant that was never created.
    const decisions = await admin<{ decisions: Array<{ outcome: string; reasons: string[] }> }>(
      base,
      'GET',
      `/admin/decisions?client_id=${agent.client_id}&limit=50`,
    );
    expect(
      decisions.body.decisions.some(
        (d) => d.outcome === 'refused' && d.reasons[0] === 'live_grant_limit',
      ),
    ).toBe(true);
    // Another agent is not affected.
    const other = await agentNamed('uncapped neighbour');
    expect((await requestToken(base, other, [task(['read'])])).status).toBe(200);
  });

  it('does not count revoked grants (by an admin, by the agent itself, for a refresh replay)', async () => {
    const agent = await agentNamed('revoking');
    const minted = [];
    for (let i = 0; i < MAX_GRANTS; i += 1)
      minted.push(await mintToken(base, agent, [task(['read'])]));
    await expectGrantCap(agent);
    const [first, second] = minted;
    expect(
      (
        await admin(base, 'POST', '/admin/revocations', {
          grant_id: first?.grant_id,
          reason: 'test',
        })
      ).status,
    ).toBe(200);
    const third = await mintToken(base, agent, [task(['read'])]);
    await expectGrantCap(agent);
    // RFC 7009: revoking the refresh token ends the grant (task complete).
    expect(
      (
        await oauthPost(
          base,
          '/oauth/revoke',
          { token: second?.refresh_token ?? '', token_type_hint: 'refresh_token' },
          agent,
        )
      ).status,
    ).toBe(200);
    expect((await requestToken(base, agent, [task(['read'])])).status).toBe(200);
    await expectGrantCap(agent);
    // A replayed refresh token revokes its grant (RFC 9700): that frees a place too.
    const rotated = await refresh(base, agent, third.refresh_token);
    expect(rotated.status, rotated.text).toBe(200);
    expect((await refresh(base, agent, third.refresh_token)).body.error).toBe('invalid_grant');
    expect((await requestToken(base, agent, [task(['read'])])).status).toBe(200);
    await expectGrantCap(agent);
  });

  it('does not count grants past their deadline', async () => {
    const agent = await agentNamed('short tasks');
    for (let i = 0; i < MAX_GRANTS; i += 1)
      await mintToken(base, agent, [task(['read'], { ttl: 1 })]);
    await expectGrantCap(agent);
    await sleep(2100);
    expect((await requestToken(base, agent, [task(['read'])])).status).toBe(200);
  });
});

describe('max_pending_approvals_per_agent', () => {
  const exportTask = () => [task(['read', 'export'], { locations: [CRM] })];

  it('refuses to open another approval request beyond the cap, opening nothing; a decided one frees its place', async () => {
    const agent = await agentNamed('exporter', ['exporters', 'writers']);
    const opened: string[] = [];
    for (let i = 0; i < MAX_PENDING; i += 1) {
      const res = await requestToken(base, agent, exportTask());
      expect(res.status, res.text).toBe(400);
      expect(res.body.error).toBe('approval_required');
      opened.push(String(res.body.auth_req_id));
    }
    const pendingOf = async () =>
      (
        await admin<{ approvals: Array<{ id: string; client_id: string }> }>(
          base,
          'GET',
          '/admin/approvals?status=pending',
        )
      ).body.approvals.filter((a) => a.client_id === agent.client_id);
    const refused = await requestToken(base, agent, exportTask());
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.error).toBe('access_denied');
    expect(refused.body.error_description).toMatch(/too many pending approval requests/);
    expect(refused.body.auth_req_id).toBeUndefined();
    expect((await pendingOf()).map((a) => a.id).sort()).toEqual([...opened].sort());
    // Asking again for an intent already pending is not a new request: it gets the same one.
    const details = exportTask();
    const other = await agentNamed('second exporter', ['exporters', 'writers']);
    const firstAsk = await requestToken(base, other, details);
    const again = await requestToken(base, other, details);
    expect(again.body.auth_req_id).toBe(firstAsk.body.auth_req_id);
    // An approver's decision takes the request out of the count.
    expect(
      (await admin(base, 'POST', `/admin/approvals/${opened[0]}`, { decision: 'deny' })).status,
    ).toBe(200);
    const next = await requestToken(base, agent, exportTask());
    expect(next.body.error).toBe('approval_required');
    expect((await requestToken(base, agent, exportTask())).body.error).toBe('access_denied');
  });
});
