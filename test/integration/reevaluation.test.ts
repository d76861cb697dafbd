// Continuous re-evaluation end to end: signals, policy changes, client changes, deadlines and the scheduled sweep.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../src/worker/reevaluation-worker.ts';
import { POLICY_CONFIG } from '../support/action-time.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClient,
  type HttpResult,
  isActive,
  mintToken,
  refresh,
  task,
  waitFor,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DEFAULT_POLICY = readFileSync(resolve(ROOT, 'config/policies/default.cedar'), 'utf8');
const READ_ONLY_POLICY = `@id("read-only") permit (principal, action == Action::"read", resource);\n`;

interface DecisionRecordView {
  kind: string;
  outcome: string;
  reasons: string[];
  grant_id?: string;
  inputs: Record<string, unknown>;
}
interface GrantView {
  id: string;
  status: string;
  reason?: string;
  granted: Array<{ actions: string[] }>;
  context: { ip?: string };
  history: DecisionRecordView[];
}

let broker: TestBroker;
let base: string;
let agent: Credentials;
let resource: Credentials;

beforeAll(async () => {
  broker = await startTestBroker({
    name: 'reevaluation',
    worker: true,
    config: [
      'worker: { sweep_every_ms: 1000 }',
      'usage: { reevaluate_at_calls_per_minute: 5 }',
      POLICY_CONFIG,
      '',
    ].join('\n'),
  });
  base = broker.url;
  ({ agent, resource } = await broker.clients({ groups: ['writers'], resources: [CRM] }));
});

afterAll(async () => {
  await broker?.close();
});

/** POSTs a signal; `auth` null sends no Authorization header. */
function signal(body: unknown, auth: string | null = basicAuth(resource)): Promise<HttpResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth) headers.authorization = auth;
  return fetch(`${base}/v1/signals`, { method: 'POST', headers, body: JSON.stringify(body) }).then(
    async (res) => {
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers,
        text,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    },
  );
}

async function grantView(id: string): Promise<GrantView> {
  const res = await admin<GrantView>(base, 'GET', `/admin/grants/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

const reevaluations = (g: GrantView) => g.history.filter((r) => r.kind === 'reevaluation');

async function putPolicy(text: string): Promise<number> {
  const res = await admin<{ version: number }>(base, 'PUT', '/admin/policies', { policies: text });
  expect(res.status, res.text).toBe(200);
  return res.body.version;
}

describe('signals re-evaluate at once', () => {
  it('prompt_changed asking to export revokes a read+write grant (action_class_changed), answering 202', async () => {
    const t = await mintToken(base, agent, [task(['read', 'write'])]);
    expect(await isActive(base, resource, t.access_token)).toBe(true);
    const res = await signal({
      grant_id: t.grant_id,
      type: 'prompt_changed',
      context: { actions: ['export'] },
    });
    expect(res.status, res.text).toBe(202);
    expect(await isActive(base, resource, t.access_token)).toBe(false);
    const g = await grantView(t.grant_id);
    expect(g.status).toBe('revoked');
    const [rec, ...more] = reevaluations(g);
    expect(more).toHaveLength(0);
    expect(rec?.outcome).toBe('revoke');
    expect(rec?.reasons).toContain('action_class_changed');
  });

  it('ip_changed to a different ip revokes (ip_changed); to the approved ip keeps', async () => {
    const kept = await mintToken(base, agent, [task(['read'])]);
    const approvedIp = (await grantView(kept.grant_id)).context.ip;
    expect(approvedIp).toBeTruthy();
    expect(
      (await signal({ grant_id: kept.grant_id, type: 'ip_changed', context: { ip: approvedIp } }))
        .status,
    ).toBe(202);
    expect(await isActive(base, resource, kept.access_token)).toBe(true);
    const keptView = await grantView(kept.grant_id);
    expect(keptView.status).toBe('active');
    expect(reevaluations(keptView)).toHaveLength(0);

    const moved = await mintToken(base, agent, [task(['read'])]);
    expect(
      (
        await signal({
          grant_id: moved.grant_id,
          type: 'ip_changed',
          context: { ip: '198.51.100.77' },
        })
      ).status,
    ).toBe(202);
    expect(await isActive(base, resource, moved.access_token)).toBe(false);
    const rec = reevaluations(await grantView(moved.grant_id));
    expect(rec).toHaveLength(1);
    expect(rec[0]?.reasons).toContain('ip_changed');
  });

  it('a risk of 90 revokes through the high-risk policy', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    expect(
      (
        await signal({
          jti: JSON.parse(Buffer.from(t.access_token.split('.')[1] ?? '', 'base64url').toString())
            .jti,
          type: 'anomaly',
          risk: 90,
        })
      ).status,
    ).toBe(202);
    expect(await isActive(base, resource, t.access_token)).toBe(false);
    const rec = reevaluations(await grantView(t.grant_id));
    expect(rec).toHaveLength(1);
    expect(rec[0]?.outcome).toBe('revoke');
    expect(rec[0]?.reasons).toContain('high-risk');
  });

  it('task_complete revokes', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    expect((await signal({ grant_id: t.grant_id, type: 'task_complete' })).status).toBe(202);
    expect(await isActive(base, resource, t.access_token)).toBe(false);
    const rec = reevaluations(await grantView(t.grant_id));
    expect(rec.map((r) => r.reasons)).toEqual([['task_complete']]);
  });

  it('rejects bad input and bad callers with problem+json, changing nothing', async () => {
    const t = await mintToken(base, agent, [task(['read', 'write'])]);
    const outsider = await createClient(base, {
      name: 'other resource',
      kind: 'resource',
      resources: ['https://other.example.com'],
    });
    const cases: Array<[unknown, string | null, number]> = [
      [{ type: 'task_complete' }, basicAuth(resource), 400], // names no grant
      [{ grant_id: t.grant_id, type: 'Task Complete!' }, basicAuth(resource), 400],
      [{ grant_id: t.grant_id, type: 'task_complete', risk: 101 }, basicAuth(resource), 400],
      [{ grant_id: t.grant_id, type: 'task_complete', extra: 1 }, basicAuth(resource), 400],
      [{ grant_id: t.grant_id, type: 'task_complete' }, null, 401],
      [
        { grant_id: t.grant_id, type: 'task_complete' },
        basicAuth({ ...resource, client_secret: 'wrong' }),
        401,
      ],
      [{ grant_id: t.grant_id, type: 'task_complete' }, 'Bearer not-the-admin-token', 401],
      [{ grant_id: t.grant_id, type: 'task_complete' }, basicAuth(agent), 403],
      [{ grant_id: t.grant_id, type: 'task_complete' }, basicAuth(outsider), 403],
    ];
    for (const [body, auth, status] of cases) {
      const res = await signal(body, auth);
      expect(res.status, `${JSON.stringify(body)} -> ${res.text}`).toBe(status);
      expect(res.headers.get('content-type') ?? '').toContain('application/problem+json');
    }
    expect(await isActive(base, resource, t.access_token)).toBe(true);
    const g = await grantView(t.grant_id);
    expect(g.status).toBe('active');
    expect(reevaluations(g)).toHaveLength(0);
  });
});

describe('client and deadline changes', () => {
  it('disabling the agent makes its token inactive', async () => {
    const other = await createClient(base, {
      name: 'disposable agent',
      kind: 'agent',
      groups: ['writers'],
    });
    const t = await mintToken(base, other, [task(['read'])]);
    expect(await isActive(base, resource, t.access_token)).toBe(true);
    const res = await admin(base, 'PATCH', `/admin/clients/${other.client_id}`, { disabled: true });
    expect(res.status, res.text).toBe(200);
    expect(await isActive(base, resource, t.access_token)).toBe(false);
    const g = await grantView(t.grant_id);
    expect(g.status).toBe('revoked');
    // Disabling revokes directly (a revocation record); a later sweep must not record the grant again.
    const naming = g.history.filter((r) => r.reasons.some((x) => /disabled/.test(x)));
    expect(naming.length).toBeGreaterThanOrEqual(1);
  });

  it('a grant with ttl 2 is inactive after ~3 s and the sweep survives its expired key', async () => {
    const t = await mintToken(base, agent, [task(['read'], { ttl: 2 })]);
    expect(await isActive(base, resource, t.access_token)).toBe(true);
    expect(
      await waitFor(async () => !(await isActive(base, resource, t.access_token)), 4000, 200),
    ).toBe(true);
    await sleep(500);
    const gone = await admin(base, 'GET', `/admin/grants/${t.grant_id}`);
    expect(gone.status).toBe(404);
    // The sweep walks the live index right over the expired grant without throwing.
    const summary = await sweep(broker.deps.broker, 100, 'test');
    expect(summary.revoke).toBe(0);
    const recs = await admin<{ decisions: DecisionRecordView[] }>(
      base,
      'GET',
      `/admin/decisions?grant_id=${t.grant_id}`,
    );
    const reev = recs.body.decisions.filter((r) => r.kind === 'reevaluation');
    expect(reev.length).toBeLessThanOrEqual(1);
    for (const r of reev) expect(r.reasons).toEqual(['deadline_passed']);
  });
});

describe('behaviour', () => {
  it('a call-volume spike crossing the usage threshold revokes the grant at once, naming the policy', async () => {
    await putPolicy(
      `${DEFAULT_POLICY}\n@id("burst")\nforbid (principal, action, resource)\nwhen { context.usage.calls_last_minute > 5 };\n`,
    );
    try {
      const t = await mintToken(base, agent, [task(['read'])]);
      const evaluate = () =>
        fetch(`${base}/access/v1/evaluation`, {
          method: 'POST',
          headers: { authorization: basicAuth(resource), 'content-type': 'application/json' },
          body: JSON.stringify({
            subject: { type: 'agent', id: agent.client_id, properties: { token: t.access_token } },
            action: { name: 'read' },
            resource: { type: 'resource', id: CRM },
          }),
        }).then((r) => r.json() as Promise<{ decision: boolean }>);
      const answers: boolean[] = [];
      for (let i = 0; i < 6; i += 1) answers.push((await evaluate()).decision);
      expect(answers).toEqual([true, true, true, true, true, false]);
      // The sixth call crossed the threshold: the worker decides the grant again without waiting for the sweep.
      expect(
        await waitFor(async () => !(await isActive(base, resource, t.access_token)), 3000, 50),
      ).toBe(true);
      const g = await grantView(t.grant_id);
      expect(g.status).toBe('revoked');
      expect(reevaluations(g)[0]).toMatchObject({
        outcome: 'revoke',
        reasons: expect.arrayContaining(['burst']),
      });
    } finally {
      await putPolicy(DEFAULT_POLICY);
    }
  });
});

describe('policy changes', () => {
  it('a read-only policy narrows a read+write grant within ~3 s; the old token dies, a refresh carries only read', async () => {
    const t = await mintToken(base, agent, [task(['read', 'write'])]);
    expect(t.authorization_details[0]?.actions).toEqual(['read', 'write']);
    try {
      await putPolicy(READ_ONLY_POLICY);
      const narrowed = await waitFor(
        async () =>
          (await grantView(t.grant_id)).granted.flatMap((e) => e.actions).join() === 'read',
        3000,
        100,
      );
      expect(narrowed).toBe(true);
      expect(await isActive(base, resource, t.access_token)).toBe(false);
      const g = await grantView(t.grant_id);
      expect(g.status).toBe('active');
      const rec = reevaluations(g);
      expect(rec).toHaveLength(1);
      expect(rec[0]?.outcome).toBe('narrow');
      expect(rec[0]?.reasons).toContain('policy_narrowed');
      const r = await refresh(base, agent, t.refresh_token);
      expect(r.status, r.text).toBe(200);
      expect(r.body.authorization_details.flatMap((e) => e.actions)).toEqual(['read']);
      expect(await isActive(base, resource, r.body.access_token)).toBe(true);
    } finally {
      await putPolicy(DEFAULT_POLICY);
    }
  });

  it('a change window closing revokes a live grant through the scheduled sweep, with no signal sent', async () => {
    const t = await mintToken(base, agent, [task(['read'])]);
    const closesAt = Math.floor(Date.now() / 1000) + 2;
    await putPolicy(
      `${DEFAULT_POLICY}\n@id("change-window-closed")\nforbid (principal, action, resource)\nwhen { context.now.unix > ${closesAt} };\n`,
    );
    try {
      expect(await isActive(base, resource, t.access_token)).toBe(true);
      expect(
        await waitFor(async () => !(await isActive(base, resource, t.access_token)), 5000, 100),
      ).toBe(true);
      const g = await grantView(t.grant_id);
      expect(g.status).toBe('revoked');
      const rec = reevaluations(g);
      expect(rec).toHaveLength(1);
      expect(rec[0]?.reasons).toContain('change-window-closed');
      expect(rec[0]?.inputs.cause).toBe('schedule');
      expect(rec[0]?.inputs.signals).toEqual([]);
    } finally {
      await putPolicy(DEFAULT_POLICY);
    }
  });
});
