// Lua scripts run by EVALSHA: a Redis whose script cache is empty (restarted, promoted, flushed) still runs every one.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, evaluationRequest } from '../support/action-time.ts';
import { admin, CRM, isActive, mintToken, refresh } from '../support/broker.ts';
import { privateBroker } from '../support/test-broker.ts';

const stepTask = () => [
  {
    type: 'agent_task',
    task_id: `T-${Math.random().toString(36).slice(2, 10)}`,
    purpose: 'script cache test',
    actions: ['search', 'read'],
    locations: [CRM],
    steps: ['search', 'read'],
  },
];

describe('an empty script cache', () => {
  const s = privateBroker();
  let redis: Redis;
  const flushScripts = async () => {
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', 'f'.repeat(40))).toEqual([0]);
  };

  beforeAll(async () => {
    redis = new Redis(s.redis.url, { lazyConnect: true });
    await redis.connect();
  });
  afterAll(() => redis?.disconnect());

  it('mints, introspects, evaluates in step order, refreshes and revokes after SCRIPT FLUSH', async () => {
    const { broker: b, agent, resource } = s;
    const before = await mintToken(b.url, agent, stepTask());

    await flushScripts();
    const minted = await mintToken(b.url, agent, stepTask());
    expect(await isActive(b.url, resource, minted.access_token)).toBe(true);

    await flushScripts();
    const first = await evaluate(
      b.url,
      resource,
      evaluationRequest(agent.client_id, minted.access_token, 'search', CRM, 'search'),
    );
    expect(first.status, first.text).toBe(200);
    expect(first.body.decision).toBe(true);
    // The step was recorded (queued as EVAL in a pipeline): going back to it is refused.
    await flushScripts();
    const second = await evaluate(
      b.url,
      resource,
      evaluationRequest(agent.client_id, minted.access_token, 'read', CRM, 'read'),
    );
    expect(second.body.decision).toBe(true);
    const back = await evaluate(
      b.url,
      resource,
      evaluationRequest(agent.client_id, minted.access_token, 'search', CRM, 'search'),
    );
    expect(back.body.decision).toBe(false);

    await flushScripts();
    const refreshed = await refresh(b.url, agent, before.refresh_token as string);
    expect(refreshed.status).toBe(200);

    await flushScripts();
    const grantId = JSON.parse(
      Buffer.from(minted.access_token.split('.')[1] as string, 'base64url').toString(),
    ).grant_id as string;
    const revoked = await admin(b.url, 'POST', '/admin/revocations', {
      grant_id: grantId,
      reason: 'script cache test',
    });
    expect(revoked.status).toBe(200);
    expect(await isActive(b.url, resource, minted.access_token)).toBe(false);
  });
});
