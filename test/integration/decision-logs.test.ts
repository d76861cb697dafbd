// Log lines of a spawned broker at `info`: X-Request-Id in and out, one line per decision with request id, client, grant and outcome, ISO times, never a token.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ADMIN_TOKEN,
  admin,
  CRM,
  createClients,
  deleteKeysUnder,
  oauthPost,
  refresh,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';

let proc: BrokerProcess;
const prefix = uniquePrefix('declog');
const redisUrl = inject('redisUrl');

type Line = Record<string, unknown>;

/** The JSON log lines the process wrote so far. */
function lines(): Line[] {
  return proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

beforeAll(async () => {
  proc = await spawnBrokerProcess({ redisUrl, prefix, env: { MANDATE_LOG_LEVEL: 'info' } });
});

afterAll(async () => {
  await proc?.stop();
  await deleteKeysUnder(redisUrl, prefix);
});

describe('request ids and decision lines', () => {
  it('keeps a sane X-Request-Id, replaces a bad one, and logs each decision once with it', async () => {
    const { agent } = await createClients(proc.url);
    const details = JSON.stringify([
      { type: 'agent_task', task_id: 'T-logs', actions: ['read'], locations: [CRM] },
    ]);
    const res = await fetch(`${proc.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${agent.client_id}:${agent.client_secret}`).toString('base64')}`,
        'x-request-id': 'req-logs-0001',
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        authorization_details: details,
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-logs-0001');
    const minted = (await res.json()) as {
      access_token: string;
      refresh_token: string;
      grant_id: string;
    };

    const bad = await fetch(`${proc.url}/healthz`, {
      headers: { 'x-request-id': 'has spaces\tand tabs' },
    });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await fetch(`${proc.url}/nope`);
    expect(none.status).toBe(404);
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    // A refresh, then a replay of the same refresh token: the theft signal.
    expect((await refresh(proc.url, agent, minted.refresh_token)).status).toBe(200);
    expect((await refresh(proc.url, agent, minted.refresh_token)).status).toBe(400);
    // A denial and an admin revocation.
    await oauthPost(
      proc.url,
      '/oauth/token',
      {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([
          { type: 'agent_task', task_id: 'T-no', actions: ['export'], locations: [CRM] },
        ]),
      },
      agent,
    );
    const live = await oauthPost(
      proc.url,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: details },
      agent,
    );
    expect(live.status, live.text).toBe(200);
    const revoked = await admin(proc.url, 'POST', '/admin/revocations', {
      client_id: agent.client_id,
      reason: 'test',
    });
    expect(revoked.status, revoked.text).toBe(200);
    await admin(proc.url, 'POST', '/admin/keys/rotate');

    await new Promise((ok) => setTimeout(ok, 300));
    const all = lines();
    const mint = all.filter((l) => l.kind === 'mint' && l.request_id === 'req-logs-0001');
    expect(mint).toHaveLength(1);
    expect(mint[0]).toMatchObject({
      level: 30,
      client_id: agent.client_id,
      grant_id: minted.grant_id,
      outcome: 'permit',
      reasons: expect.any(Array),
      decision_id: expect.stringMatching(/^d-/),
    });
    expect(String(mint[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const kinds = (k: string) =>
      all.filter((l) => l.kind === k && typeof l.request_id === 'string');
    expect(kinds('refresh').length).toBeGreaterThanOrEqual(1);
    const replay = all.find((l) => l.event === 'refresh_replay');
    expect(replay).toMatchObject({
      level: 40,
      grant_id: minted.grant_id,
      reasons: ['refresh_token_replay'],
    });
    expect(
      kinds('denial').some((l) => l.client_id === agent.client_id),
      JSON.stringify(all.filter((l) => l.kind)),
    ).toBe(true);
    expect(
      kinds('revocation').some((l) => l.by === 'bootstrap'),
      JSON.stringify(all.filter((l) => l.kind === 'revocation')),
    ).toBe(true);
    expect(all.some((l) => l.kind === 'policy' && l.outcome === 'key_rotated')).toBe(true);
    // Every line carries an ISO time; no line carries a token or a secret.
    for (const l of all) expect(String(l.time)).toMatch(/Z$/);
    const text = proc.output();
    for (const secret of [
      minted.access_token,
      minted.refresh_token,
      agent.client_secret,
      ADMIN_TOKEN,
    ])
      expect(text).not.toContain(secret);
  });
});
