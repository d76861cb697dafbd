// Refresh-token replay (RFC 9700): a second use revokes the grant; another client's token changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  type Credentials,
  createClient,
  createClients,
  isActive,
  mintToken,
  refresh,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

interface GrantView {
  status: string;
  reason?: string;
  history: Array<{ kind: string; outcome: string; reasons: string[] }>;
}

describe('refresh token replay', () => {
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

  it('a refresh token used twice is invalid_grant and revokes the grant', async () => {
    const first = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-replay' })]);
    const second = await refresh(broker.url, agent, first.refresh_token);
    expect(second.status).toBe(200);
    expect(await isActive(broker.url, resource, second.body.access_token)).toBe(true);

    const replay = await refresh(broker.url, agent, first.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(replay.body).not.toHaveProperty('access_token');

    // The newest token and the newest refresh token die with the grant.
    expect(await isActive(broker.url, resource, second.body.access_token)).toBe(false);
    expect(await isActive(broker.url, resource, first.access_token)).toBe(false);
    const third = await refresh(broker.url, agent, second.body.refresh_token);
    expect(third.status).toBe(400);
    expect(third.body.error).toBe('invalid_grant');

    const grant = await admin<GrantView>(broker.url, 'GET', `/admin/grants/${first.grant_id}`);
    expect(grant.status).toBe(200);
    expect(grant.body.status).toBe('revoked');
    expect(grant.body.reason).toBe('refresh_token_replay');
    expect(
      grant.body.history.some(
        (r) => r.kind === 'revocation' && r.reasons.includes('refresh_token_replay'),
      ),
    ).toBe(true);
    // The admin view never shows refresh token material.
    expect(grant.text).not.toContain(first.refresh_token.split('.')[2] as string);
    expect(grant.body).not.toHaveProperty('refresh_hash');
    expect(grant.body).not.toHaveProperty('used_refresh_hashes');
  });

  it("another client's refresh token is invalid_grant and revokes nothing", async () => {
    const thief = await createClient(broker.url, {
      name: 'other agent',
      kind: 'agent',
      groups: ['writers'],
    });
    const victim = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-stolen' })]);

    const stolen = await refresh(broker.url, thief, victim.refresh_token);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');

    expect(await isActive(broker.url, resource, victim.access_token)).toBe(true);
    const grant = await admin<GrantView>(broker.url, 'GET', `/admin/grants/${victim.grant_id}`);
    expect(grant.body.status).toBe('active');
    // The owner's refresh token still works: the attempt did not rotate or burn it.
    const own = await refresh(broker.url, agent, victim.refresh_token);
    expect(own.status).toBe(200);
    // Even a replayed (already used) token presented by another client revokes nothing.
    const stolenOld = await refresh(broker.url, thief, victim.refresh_token);
    expect(stolenOld.body.error).toBe('invalid_grant');
    expect(await isActive(broker.url, resource, own.body.access_token)).toBe(true);
  });

  it('a forged refresh token for a real grant is invalid_grant and revokes nothing', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-forged' })]);
    const forged = await refresh(broker.url, agent, `mrt.${tr.grant_id}.${'A'.repeat(43)}`);
    expect(forged.status).toBe(400);
    expect(forged.body.error).toBe('invalid_grant');
    expect(await isActive(broker.url, resource, tr.access_token)).toBe(true);
  });

  it('concurrent uses of one refresh token: at most one succeeds', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-race' })]);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => refresh(broker.url, agent, tr.refresh_token)),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeLessThanOrEqual(1);
    for (const r of results.filter((x) => x.status !== 200))
      expect(r.body.error).toBe('invalid_grant');
    // Any loser is a replay: the grant ends, so even the winner's token is inactive.
    if (ok.length === 1 && results.length > 1)
      expect(await isActive(broker.url, resource, ok[0]!.body.access_token)).toBe(false);
  });
});
