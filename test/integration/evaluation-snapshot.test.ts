// Evaluations decided from the grant as the last one read it (one Redis round trip), over real HTTP
// and Redis: used only while the grant is unchanged, counted, recorded with the ranges they hold for.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKeyNames } from '../../src/store/key-names.ts';
import { createRedisGrantStore } from '../../src/store/redis-grant-store.ts';
import {
  decisionsOfGrant,
  evaluate,
  evaluationRequest,
  POLICY_CONFIG,
} from '../support/action-time.ts';
import { admin, CRM, type Credentials, createClients, mintToken, task } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const redisUrl = inject('redisUrl');
const DEFAULT_POLICY = readFileSync(
  resolve(import.meta.dirname, '../../config/policies/default.cedar'),
  'utf8',
);

let broker: TestBroker;
let base: string;
let agent: Credentials;
let resource: Credentials;
let redis: Redis;

beforeAll(async () => {
  // Re-evaluation at the 8th call in a minute: a count the snapshot path must tell apart.
  broker = await startTestBroker({
    config: `${POLICY_CONFIG}\nusage: { reevaluate_at_calls_per_minute: 7 }\n`,
  });
  base = broker.url;
  ({ agent, resource } = await createClients(base, { groups: ['writers'], resources: [CRM] }));
  redis = new Redis(redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await broker?.close();
});

/** The broker's evaluations by path so far (mandate_evaluation_paths_total). */
async function paths(): Promise<{ snapshot: number; read: number; stale: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const count = (path: string) =>
    Number(
      new RegExp(`^mandate_evaluation_paths_total\\{path="${path}"\\} (\\d+)`, 'm').exec(
        text,
      )?.[1] ?? 0,
    );
  return { snapshot: count('snapshot'), read: count('read'), stale: count('stale') };
}

async function decide(token: string, action = 'read') {
  const res = await evaluate(
    base,
    resource,
    evaluationRequest(agent.client_id, token, action, CRM),
  );
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The grant's calls in its trailing-minute window (per-second buckets; a test's calls are all within it). */
async function callsCounted(grantId: string): Promise<string> {
  const fields = await redis.hgetall(`${broker.prefix}{g:${grantId}}:calls`);
  // Bucket fields are numbers; `n` is the scripts' running sum of them, `o` the window's oldest bucket.
  const sum = Object.entries(fields).reduce(
    (n, [f, c]) => (/^\d+$/.test(f) ? n + Number(c) : n),
    0,
  );
  expect(Number(fields.n)).toBe(sum);
  return String(sum);
}

async function putPolicy(text: string): Promise<void> {
  const res = await admin(base, 'PUT', '/admin/policies', { policies: text });
  expect(res.status, res.text).toBe(200);
}

describe('evaluation from a grant snapshot', () => {
  it('answers repeat calls in one round trip, counts each, and records the ranges it decided on', async () => {
    const t = await mintToken(base, agent, [task(['read', 'write'])]);
    const before = await paths();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await decide(t.access_token)).decision);
    expect(answers).toEqual([true, true, true, true]);
    const after = await paths();
    // The first call read the grant (read was a new action); the others were decided from what it read.
    expect(after.read - before.read).toBe(1);
    expect(after.snapshot - before.snapshot).toBe(3);
    expect(await callsCounted(t.grant_id)).toBe('4');

    const records = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation',
    );
    expect(records.map((r) => r.outcome)).toEqual(['permit', 'permit', 'permit', 'permit']);
    expect(records[0]?.inputs.usage).toEqual({
      calls_last_minute: 1,
      denied_last_hour: 0,
      new_action: true,
    });
    // The default policy forbids above 600 calls a minute and 50 denials an hour; 8 calls start a re-evaluation.
    expect(records[1]?.inputs.usage).toEqual({
      calls_last_minute: { min: 1, max: 7 },
      denied_last_hour: { min: 0, max: 49 },
      new_action: false,
    });
    const verify = await admin<{ ok: boolean }>(base, 'GET', '/admin/audit/verify');
    expect(verify.body.ok, verify.text).toBe(true);
  });

  it('a new action is decided after reading, then from the snapshot', async () => {
    const t = await mintToken(base, agent, [task(['read', 'write'])]);
    await decide(t.access_token, 'read');
    const before = await paths();
    expect((await decide(t.access_token, 'write')).decision).toBe(true);
    expect((await decide(t.access_token, 'write')).decision).toBe(true);
    const after = await paths();
    expect([after.read - before.read, after.snapshot - before.snapshot]).toEqual([1, 1]);
  });

  it('the call that crosses the re-evaluation threshold takes the full path, which starts the re-evaluation', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    const before = await paths();
    for (let i = 0; i < 9; i++) expect((await decide(t.access_token)).decision).toBe(true);
    const after = await paths();
    // Read: the first call (a new action) and the 8th (reevaluate_at_calls_per_minute 7, plus one).
    expect([after.read - before.read, after.snapshot - before.snapshot]).toEqual([2, 7]);
    const records = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation',
    );
    expect(records[7]?.inputs.usage).toMatchObject({ calls_last_minute: 8 });
    expect(records[8]?.inputs.usage).toMatchObject({ calls_last_minute: { min: 9, max: 599 } });
  });

  it('a token revoked since the snapshot is refused: the guard sends the call down the full path', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    await decide(t.access_token);
    await decide(t.access_token);
    const jti = JSON.parse(
      Buffer.from(t.access_token.split('.')[1] as string, 'base64url').toString(),
    ).jti as string;
    const revoked = await admin(base, 'POST', '/admin/revocations', { jti, reason: 'test' });
    expect(revoked.status, revoked.text).toBe(200);
    const before = await paths();
    const answer = await decide(t.access_token);
    expect(answer.decision).toBe(false);
    expect(answer.context?.reason_admin?.code).toBe('token_revoked');
    const after = await paths();
    expect([after.stale - before.stale, after.read - before.read]).toEqual([1, 1]);
    // The refused call was not counted twice: 2 before, 1 now.
    expect(await callsCounted(t.grant_id)).toBe('3');
  });

  it('a signal reported since the snapshot is decided with: policy forbids a compromised credential', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    await decide(t.access_token);
    await decide(t.access_token);
    // Stored on the grant directly, as a signal lands, without the re-evaluation that would revoke it:
    // only the evaluation's own re-check stands between the snapshot and a permit.
    // (Through the grant store, which keeps the signal list and the summary evaluations read together.)
    const grants = createRedisGrantStore(redis, createKeyNames(broker.prefix));
    expect(
      await grants.addSignal(t.grant_id, {
        type: 'credential_compromised',
        at: Math.floor(Date.now() / 1000),
      }),
    ).toBe('added');
    const answer = await decide(t.access_token);
    expect(answer.decision).toBe(false);
    expect(answer.context?.reason_admin?.policies).toContain('credential-compromised');
  });

  it('a count crossing a policy threshold is decided on the exact count', async () => {
    const burst =
      '@id("read-style-actions") permit (principal, action, resource);\n@id("burst") forbid (principal, action, resource) when { context.usage.calls_last_minute > 3 };\n';
    await putPolicy(burst);
    try {
      const t = await mintToken(base, agent, [task(['read'])]);
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push((await decide(t.access_token)).decision);
      expect(answers).toEqual([true, true, true, false, false]);
      const records = (await decisionsOfGrant(base, t.grant_id)).filter(
        (r) => r.kind === 'evaluation',
      );
      expect(records[1]?.inputs.usage).toMatchObject({ calls_last_minute: { min: 1, max: 2 } });
      expect(records[2]?.inputs.usage).toMatchObject({ calls_last_minute: { min: 3, max: 3 } });
      expect(records[3]).toMatchObject({ outcome: 'deny', reasons: ['policy_denied', 'burst'] });
    } finally {
      await putPolicy(DEFAULT_POLICY);
    }
  });

  it('two broker processes on one grant: each counts into the same counter, and a revocation on one holds on the other', async () => {
    // Behind one load balancer: one issuer, one Redis prefix.
    const other = await startTestBroker({
      config: `${POLICY_CONFIG}\nserver: { issuer: ${JSON.stringify(base)} }\nusage: { reevaluate_at_calls_per_minute: 7 }\n`,
      prefix: broker.prefix,
    });
    try {
      const t = await mintToken(base, agent, [task(['read'])]);
      const on = (url: string) =>
        evaluate(
          url,
          resource,
          evaluationRequest(agent.client_id, t.access_token, 'read', CRM),
        ).then((r) => r.body);
      const answers = [];
      for (let i = 0; i < 3; i++)
        answers.push((await on(base)).decision, (await on(other.url)).decision);
      expect(answers).toEqual([true, true, true, true, true, true]);
      expect(await callsCounted(t.grant_id)).toBe('6');
      const revoked = await admin(base, 'POST', '/admin/revocations', {
        grant_id: t.grant_id,
        reason: 'test',
      });
      expect(revoked.status, revoked.text).toBe(200);
      const after = await on(other.url);
      expect(after.decision).toBe(false);
      expect(after.context?.reason_admin?.code).toBe('grant_revoked');
    } finally {
      await other.close();
    }
  });

  it('concurrent calls around a revocation: every answer has its record, and the chain verifies', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    await decide(t.access_token);
    const jti = JSON.parse(
      Buffer.from(t.access_token.split('.')[1] as string, 'base64url').toString(),
    ).jti as string;
    const calls = Array.from({ length: 40 }, (_, i) =>
      i === 20
        ? admin(base, 'POST', '/admin/revocations', { jti, reason: 'mid-burst' }).then(
            () => undefined,
          )
        : decide(t.access_token),
    );
    const answers = (await Promise.all(calls)).filter((a) => a !== undefined);
    const records = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation',
    );
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const a of answers) {
      const record = byId.get(a.context?.decision_id as string);
      expect(record?.outcome).toBe(a.decision ? 'permit' : 'deny');
    }
    expect(records).toHaveLength(answers.length + 1);
    expect((await decide(t.access_token)).decision).toBe(false);
    const verify = await admin<{ ok: boolean; records: number }>(
      base,
      'GET',
      '/admin/audit/verify',
    );
    expect(verify.body.ok, verify.text).toBe(true);
  });
});
