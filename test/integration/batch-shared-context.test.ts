// A batch evaluation's top-level context over real HTTP and Redis: stored once (not once per
// decision), named by each decision, shown by the admin API, and covered by the audit chain.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalJson, type DecisionRecord } from '../../src/domain/decision-record.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { sha256 } from '../../src/store/redis-decision-log.ts';
import { postAuthzen } from '../support/action-time.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  mintToken,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const redisUrl = () => inject('redisUrl');

/** About 420 KB of context, inside the parse-time JSON bounds (no string over 64 KiB). */
const bigContext = () => ({
  ip: '203.0.113.9',
  ...Object.fromEntries(
    Array.from({ length: 7 }, (_, i) => [`notes_${i}`, String.fromCharCode(97 + i).repeat(60_000)]),
  ),
});

describe('batch evaluation with a shared context', () => {
  let broker: TestBroker;
  let redis: Redis;
  let agent: Credentials;
  let resource: Credentials;
  let token: { access_token: string; grant_id: string };

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url, { resources: [CRM] }));
    token = await mintToken(broker.url, agent, [task(['read', 'write'])]);
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis?.disconnect();
    await broker?.close();
  });

  const stream = () => createKeyNames(broker.prefix).decisions;
  const records = async () =>
    (await redis.xrange(stream(), '-', '+')).map(([id, f]) => ({ id, text: f[1] ?? '' }));

  it('stores a 420 KB context of a batch of 100 once, not 100 times', async () => {
    const context = bigContext();
    const contextBytes = Buffer.byteLength(JSON.stringify(context));
    const before = await records();
    const bytesBefore = before.reduce((n, r) => n + Buffer.byteLength(r.text), 0);
    const res = await postAuthzen(
      broker.url,
      '/access/v1/evaluations',
      {
        subject: { type: 'agent', id: agent.client_id, properties: { token: token.access_token } },
        resource: { type: 'resource', id: CRM },
        context,
        evaluations: Array.from({ length: 100 }, (_, i) => ({
          action: { name: i % 2 ? 'read' : 'write' },
        })),
      },
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.evaluations).toHaveLength(100);

    const after = await records();
    expect(after.length - before.length).toBe(101);
    const added = after.reduce((n, r) => n + Buffer.byteLength(r.text), 0) - bytesBefore;
    // One copy of the context and 100 small records (a copy each would be over 40 MB).
    expect(added).toBeGreaterThan(contextBytes);
    expect(added).toBeLessThan(contextBytes + 150_000);
    const memory = Number(await redis.call('MEMORY', 'USAGE', stream(), 'SAMPLES', '0'));
    expect(memory).toBeLessThan(3 * contextBytes);

    const verdict = await admin(broker.url, 'GET', '/admin/audit/verify');
    expect(verdict.body).toMatchObject({ ok: true });
  });

  it("shows each decision's shared context through the admin API", async () => {
    const listed = await admin<{
      decisions: DecisionRecord[];
      shared_inputs: Record<string, { context: unknown } | null>;
    }>(broker.url, 'GET', `/admin/decisions?client_id=${agent.client_id}&limit=100`);
    expect(listed.status).toBe(200);
    const evaluations = listed.body.decisions.filter((r) => r.kind === 'evaluation');
    expect(evaluations).toHaveLength(100);
    const refs = new Set(
      evaluations.map((r) => (r.inputs.shared_context as { record: string }).record),
    );
    expect(refs.size).toBe(1);
    const [ref] = [...refs];
    expect(evaluations.every((r) => r.inputs.context === undefined)).toBe(true);
    expect(listed.body.shared_inputs[ref as string]?.context).toEqual(bigContext());

    const grant = await admin<{
      history: DecisionRecord[];
      shared_inputs: Record<string, { context: unknown } | null>;
    }>(broker.url, 'GET', `/admin/grants/${token.grant_id}`);
    expect(grant.status).toBe(200);
    expect(grant.body.shared_inputs[ref as string]?.context).toEqual(bigContext());
  });

  it('a batch item with its own context keeps it; a batch with one taker shares nothing', async () => {
    const res = await postAuthzen(
      broker.url,
      '/access/v1/evaluations',
      {
        subject: { type: 'agent', id: agent.client_id, properties: { token: token.access_token } },
        resource: { type: 'resource', id: CRM },
        context: { ip: '203.0.113.9', batch: true },
        evaluations: [
          { action: { name: 'read' }, context: { ip: '203.0.113.10', own: true } },
          { action: { name: 'read' } },
        ],
      },
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    const [own, shared] = (await records())
      .slice(-2)
      .map((r) => JSON.parse(r.text) as DecisionRecord);
    expect(own?.inputs.context).toEqual({ ip: '203.0.113.10', own: true });
    expect(shared?.inputs.context).toEqual({ ip: '203.0.113.9', batch: true });
  });

  it('/admin/audit/verify detects a change to the shared context, its hash recomputed or not', async () => {
    const entries = await redis.xrange(stream(), '-', '+');
    const rewrite = async (edit: (r: DecisionRecord) => DecisionRecord) => {
      const m = redis.multi().del(stream());
      for (const [id, f] of entries) {
        const r = JSON.parse(f[1] ?? '{}') as DecisionRecord;
        m.xadd(stream(), id, 'r', JSON.stringify(r.kind === 'inputs' ? edit(r) : r));
      }
      await m.exec();
    };
    const forged = (r: DecisionRecord) => ({
      ...r,
      inputs: { ...r.inputs, context: { ...(r.inputs.context as object), ip: '198.51.100.1' } },
    });
    try {
      await rewrite(forged);
      expect((await admin(broker.url, 'GET', '/admin/audit/verify')).body).toMatchObject({
        ok: false,
      });
      await rewrite((r) => {
        const { hash: _h, ...body } = forged(r);
        return { ...body, hash: sha256(canonicalJson(body)) } as DecisionRecord;
      });
      expect((await admin(broker.url, 'GET', '/admin/audit/verify')).body).toMatchObject({
        ok: false,
      });
      // And the admin API does not show the changed context as the decisions' inputs.
      const listed = await admin<{ shared_inputs: Record<string, unknown> }>(
        broker.url,
        'GET',
        `/admin/decisions?client_id=${agent.client_id}&limit=100`,
      );
      expect(Object.values(listed.body.shared_inputs)).toEqual([null]);
    } finally {
      await rewrite((r) => r);
    }
    expect((await admin(broker.url, 'GET', '/admin/audit/verify')).body).toMatchObject({
      ok: true,
    });
  });
});
