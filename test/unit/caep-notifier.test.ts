// The CAEP notifier never fails or stalls the request that revoked a grant; SET payloads follow RFC 8417 + CAEP 1.0.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Receiver, ReceiverStore } from '../../src/domain/receiver.ts';
import {
  audiencesOf,
  CAEP_EVENT_TYPE,
  eventForAudience,
  type GrantEvent,
  initiatingEntityOf,
  securityEventPayload,
} from '../../src/domain/security-event.ts';
import { createCaepNotifier } from '../../src/worker/caep-delivery.ts';
import { freePort } from '../support/redis-server.ts';

const GRANT = {
  id: 'g-1',
  client_id: 'agent-1',
  task_id: 'T-1',
  granted: [{ type: 'agent_task' as const, task_id: 'T-1', actions: ['read'], locations: ['aud'] }],
};
const logged: string[] = [];
const log = {
  info: () => undefined,
  warn: (_o: object, m?: string) => void logged.push(m ?? ''),
  error: (_o: object, m?: string) => void logged.push(m ?? ''),
};
const clock = { nowMs: () => 1_736_942_400_000 };
const connections: Redis[] = [];

function store(list: () => Promise<Receiver[]>): ReceiverStore {
  return {
    list,
    get: async () => undefined,
    create: async () => true,
    put: async () => undefined,
    delete: async () => true,
  };
}

async function deadConnection(): Promise<Redis> {
  const r = new Redis(`redis://127.0.0.1:${await freePort()}`, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: () => 200,
  });
  r.on('error', () => undefined);
  connections.push(r);
  return r;
}

afterAll(() => {
  for (const r of connections) r.disconnect();
});

describe('createCaepNotifier', () => {
  it('logs instead of throwing when the receivers cannot be read', async () => {
    const notifier = createCaepNotifier({
      connection: await deadConnection(),
      prefix: 't:q',
      queueName: (id: string) => `caep.${id}`,
      log,
      clock,
      receivers: store(() => Promise.reject(new Error('redis down'))),
    });
    await expect(notifier.revoked(GRANT, 'x')).resolves.toBeUndefined();
    expect(logged).toContain('caep event not queued');
  });

  it('logs instead of throwing when the queue cannot be reached', async () => {
    const receiver: Receiver = {
      id: 'rs',
      url: 'http://127.0.0.1:9/',
      audience: 'aud',
      events: ['session-revoked'],
    };
    const notifier = createCaepNotifier({
      connection: await deadConnection(),
      prefix: 't:q',
      queueName: (id: string) => `caep.${id}`,
      log,
      clock,
      receivers: store(async () => [receiver]),
    });
    logged.length = 0;
    const start = Date.now();
    await expect(notifier.revoked(GRANT, 'x')).resolves.toBeUndefined();
    expect(Date.now() - start).toBeLessThan(3000);
    expect(logged.length).toBeGreaterThan(0);
  });

  it('returns within about a second when Redis stalls', async () => {
    const notifier = createCaepNotifier({
      connection: await deadConnection(),
      prefix: 't:q',
      queueName: (id: string) => `caep.${id}`,
      log,
      clock,
      receivers: store(() => new Promise<Receiver[]>(() => undefined)),
    });
    logged.length = 0;
    const start = Date.now();
    await expect(notifier.narrowed(GRANT, [], 'x')).resolves.toBeUndefined();
    expect(Date.now() - start).toBeGreaterThanOrEqual(900);
    expect(Date.now() - start).toBeLessThan(3000);
    expect(logged).toContain('caep enqueue slow; continuing in the background');
    expect(logged).not.toContain('caep event not queued');
  });
});

describe('securityEventPayload', () => {
  const set = {
    issuer: 'https://mandate.example',
    audience: 'urn:rs',
    jti: 'j-1',
    iatSec: 100,
    txn: 't-1',
  };

  it('describes a revocation as session-revoked about the grant', () => {
    const p = securityEventPayload(
      {
        kind: 'session-revoked',
        grant: GRANT,
        reason: 'policy_denied',
        event_timestamp: 99,
        initiating_entity: initiatingEntityOf('policy_denied'),
      },
      set,
    );
    expect(p).toEqual({
      iss: 'https://mandate.example',
      iat: 100,
      jti: 'j-1',
      aud: 'urn:rs',
      txn: 't-1',
      client_id: 'agent-1',
      task_id: 'T-1',
      events: {
        [CAEP_EVENT_TYPE['session-revoked']]: {
          subject: { format: 'opaque', id: 'g-1' },
          event_timestamp: 99,
          initiating_entity: 'policy',
          reason_admin: { en: 'policy_denied' },
        },
      },
    });
  });

  it('carries the narrowed authorization_details in a token-claims-change', () => {
    const granted = [
      {
        type: 'agent_task' as const,
        task_id: 'T-1',
        actions: ['read'],
        locations: ['https://crm.example.com'],
      },
    ];
    const p = securityEventPayload(
      {
        kind: 'token-claims-change',
        grant: GRANT,
        reason: 'policy_narrowed',
        event_timestamp: 99,
        initiating_entity: 'policy',
        granted,
      },
      set,
    );
    const event = (p.events as Record<string, { claims: unknown }>)[
      CAEP_EVENT_TYPE['token-claims-change']
    ];
    expect(event?.claims).toEqual({ authorization_details: granted });
  });

  it('names who initiated a change', () => {
    expect(initiatingEntityOf('refresh_token_replay')).toBe('system');
    expect(initiatingEntityOf('policy_narrowed_on_refresh')).toBe('policy');
    expect(initiatingEntityOf('agent_disabled')).toBe('admin');
    expect(initiatingEntityOf('incident 42: leaked key')).toBe('admin');
  });
});

describe('eventForAudience', () => {
  const A = 'https://a.example.com';
  const B = 'https://b.example.com';
  const C = 'https://c.example.com';
  const before = [
    {
      type: 'agent_task' as const,
      task_id: 'T-1',
      purpose: 'p',
      actions: ['read', 'write'],
      locations: [A, B],
    },
    { type: 'agent_task' as const, task_id: 'T-1', actions: ['export'], locations: [B] },
  ];
  const grant = { id: 'g-1', client_id: 'agent-1', task_id: 'T-1', granted: before };
  const revoked: GrantEvent = {
    kind: 'session-revoked',
    grant: GRANT,
    reason: 'r',
    event_timestamp: 1,
    initiating_entity: 'admin',
  };

  it('tells a revocation only to audiences the grant reached', () => {
    const audiences = audiencesOf(grant);
    expect([...audiences].sort()).toEqual([A, B]);
    expect(eventForAudience(revoked, audiences, A)).toEqual(revoked);
    expect(eventForAudience(revoked, audiences, C)).toBeUndefined();
    // Prefix and case look-alikes are other audiences.
    expect(eventForAudience(revoked, audiences, `${A}/`)).toBeUndefined();
    expect(eventForAudience(revoked, audiences, 'https://A.example.com')).toBeUndefined();
  });

  it("shows a narrowing's receiver only the entries and the location of its own audience", () => {
    const after = [
      {
        type: 'agent_task' as const,
        task_id: 'T-1',
        purpose: 'p',
        actions: ['read'],
        locations: [A, B],
      },
    ];
    const narrowed: GrantEvent = {
      kind: 'token-claims-change',
      grant: GRANT,
      reason: 'r',
      event_timestamp: 1,
      initiating_entity: 'policy',
      granted: after,
    };
    const audiences = audiencesOf(grant, after);
    expect(eventForAudience(narrowed, audiences, A)?.granted).toEqual([
      { type: 'agent_task', task_id: 'T-1', purpose: 'p', actions: ['read'], locations: [A] },
    ]);
    expect(eventForAudience(narrowed, audiences, B)?.granted).toEqual([
      { type: 'agent_task', task_id: 'T-1', purpose: 'p', actions: ['read'], locations: [B] },
    ]);
    expect(eventForAudience(narrowed, audiences, C)).toBeUndefined();
  });

  it('tells an audience the narrowing took everything from that it has nothing left', () => {
    const after = [
      { type: 'agent_task' as const, task_id: 'T-1', actions: ['read'], locations: [A] },
    ];
    const narrowed: GrantEvent = {
      kind: 'token-claims-change',
      grant: GRANT,
      reason: 'r',
      event_timestamp: 1,
      initiating_entity: 'policy',
      granted: after,
    };
    expect(eventForAudience(narrowed, audiencesOf(grant, after), B)?.granted).toEqual([]);
  });
});
