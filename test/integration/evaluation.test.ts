// AuthZEN action-time decisions over real HTTP and Redis: scope, step order, liveness, records, batches, bad input.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decisionsOfGrant,
  evaluate,
  evaluationRequest,
  latestDecisions,
  POLICY_CONFIG,
  postAuthzen,
} from '../support/action-time.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClient,
  createClients,
  mintToken,
} from '../support/broker.ts';
import { postOnFreshConnection } from '../support/post-on-fresh-connection.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const OTHER = 'https://other.example.com';

let broker: TestBroker;
let base: string;
let agent: Credentials;
let resource: Credentials;

beforeAll(async () => {
  broker = await startTestBroker({ config: `${POLICY_CONFIG}\n` });
  base = broker.url;
  ({ agent, resource } = await createClients(base, { groups: ['writers'], resources: [CRM] }));
});

afterAll(async () => {
  await broker?.close();
});

/** A fresh grant for search then read on the CRM, with that declared step order. */
function stepTask() {
  return [
    {
      type: 'agent_task',
      task_id: `T-${Math.random().toString(36).slice(2, 10)}`,
      purpose: 'action-time test',
      actions: ['search', 'read'],
      locations: [CRM],
      steps: ['search', 'read'],
    },
  ];
}

async function freshToken(who: Credentials = agent) {
  return mintToken(base, who, stepTask());
}

/** Evaluates `action` with `step` on `resourceId` for the token; asserts the HTTP status is 200. */
async function decide(
  token: string,
  action: string,
  step: string | undefined,
  resourceId = CRM,
  subject = agent.client_id,
) {
  const res = await evaluate(
    base,
    resource,
    evaluationRequest(subject, token, action, resourceId, step),
  );
  expect(res.status, res.text).toBe(200);
  expect(typeof res.body.context?.decision_id).toBe('string');
  return res.body;
}

describe('single evaluation', () => {
  it('permits in-scope actions in declared step order, repeats allowed', async () => {
    const t = await freshToken();
    const answers = [];
    for (const step of ['search', 'search', 'read', 'read'])
      answers.push(await decide(t.access_token, step, step));
    expect(answers.map((a) => a.decision)).toEqual([true, true, true, true]);
    expect(answers.every((a) => a.context?.reason_admin === undefined)).toBe(true);
  });

  it('denies going back a step (step_out_of_order)', async () => {
    const t = await freshToken();
    expect((await decide(t.access_token, 'search', 'search')).decision).toBe(true);
    expect((await decide(t.access_token, 'read', 'read')).decision).toBe(true);
    const back = await decide(t.access_token, 'search', 'search');
    expect(back.decision).toBe(false);
    expect(back.context?.reason_admin?.code).toBe('step_out_of_order');
  });

  it('denies skipping ahead: the first call may not be the second step', async () => {
    const t = await freshToken();
    const ahead = await decide(t.access_token, 'read', 'read');
    expect(ahead.decision).toBe(false);
    expect(ahead.context?.reason_admin?.code).toBe('step_out_of_order');
    // Skipping ahead is drift from the declared intent: the grant is revoked at once.
    const after = await decide(t.access_token, 'search', 'search');
    expect(after.decision).toBe(false);
    expect(after.context?.reason_admin?.code).toBe('grant_revoked');
    const reevaluation = (await decisionsOfGrant(base, t.grant_id)).find(
      (r) => r.kind === 'reevaluation',
    );
    expect(reevaluation).toMatchObject({ outcome: 'revoke', reasons: ['step_out_of_order'] });
  });

  it('revokes the grant when the agent tries an action outside it that it never used', async () => {
    const t = await freshToken();
    expect((await decide(t.access_token, 'search', 'search')).decision).toBe(true);
    const probe = await decide(t.access_token, 'delete', 'read');
    expect(probe.context?.reason_admin?.code).toBe('outside_grant');
    expect((await decide(t.access_token, 'read', 'read')).context?.reason_admin?.code).toBe(
      'grant_revoked',
    );
    const reevaluation = (await decisionsOfGrant(base, t.grant_id)).find(
      (r) => r.kind === 'reevaluation',
    );
    expect(reevaluation).toMatchObject({ outcome: 'revoke', reasons: ['never_used_action'] });
  });

  it('denies a call without a step or with an undeclared one when the task declares steps', async () => {
    const t = await freshToken();
    const none = await decide(t.access_token, 'search', undefined);
    expect(none.decision).toBe(false);
    expect(none.context?.reason_admin?.code).toBe('step_required');
    const unknown = await decide(t.access_token, 'search', 'summarise');
    expect(unknown.decision).toBe(false);
    expect(unknown.context?.reason_admin?.code).toBe('unknown_step');
  });

  it('denies an action outside the grant (outside_grant), though policy would permit it', async () => {
    const t = await freshToken();
    // The agent is a writer: policy permits write, but the grant holds only search and read.
    const res = await decide(t.access_token, 'write', 'search');
    expect(res.decision).toBe(false);
    expect(res.context?.reason_admin?.code).toBe('outside_grant');
  });

  it('denies a resource the caller does not serve (foreign_resource)', async () => {
    const t = await freshToken();
    const res = await decide(t.access_token, 'search', 'search', OTHER);
    expect(res.decision).toBe(false);
    expect(res.context?.reason_admin?.code).toBe('foreign_resource');
  });

  it("denies a caller whose resources are not the token's audience (foreign_audience)", async () => {
    const t = await freshToken();
    const outsider = await createClient(base, {
      name: 'other api',
      kind: 'resource',
      resources: [OTHER],
    });
    const res = await evaluate(
      base,
      outsider,
      evaluationRequest(agent.client_id, t.access_token, 'search', OTHER, 'search'),
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.decision).toBe(false);
    expect(res.body.context?.reason_admin?.code).toBe('foreign_audience');
  });

  it('denies a subject id that is not the token holder (subject_mismatch)', async () => {
    const t = await freshToken();
    const other = await createClient(base, {
      name: 'other agent',
      kind: 'agent',
      groups: ['writers'],
    });
    const res = await decide(t.access_token, 'search', 'search', CRM, other.client_id);
    expect(res.decision).toBe(false);
    expect(res.context?.reason_admin?.code).toBe('subject_mismatch');
  });

  it('denies once the grant is revoked through /admin/revocations', async () => {
    const t = await freshToken();
    expect((await decide(t.access_token, 'search', 'search')).decision).toBe(true);
    const rev = await admin(base, 'POST', '/admin/revocations', {
      grant_id: t.grant_id,
      reason: 'test',
    });
    expect(rev.status, rev.text).toBe(200);
    expect(rev.body).toMatchObject({ revoked: { grants: 1 } });
    const res = await decide(t.access_token, 'search', 'search');
    expect(res.decision).toBe(false);
    expect(res.context?.reason_admin?.code).toMatch(/revoked/);
  });

  it('records every call as an evaluation decision of the grant, with its decision_id and outcome', async () => {
    const t = await freshToken();
    // Denials that are not drift (a resource the caller does not serve) leave the grant live.
    const answers = [
      await decide(t.access_token, 'search', 'search'),
      await decide(t.access_token, 'read', 'read', OTHER),
      await decide(t.access_token, 'read', 'read'),
      await decide(t.access_token, 'read', 'read', OTHER),
      await decide(t.access_token, 'read', 'read'),
    ];
    expect(answers.map((a) => a.decision)).toEqual([true, false, true, false, true]);
    const records = await decisionsOfGrant(base, t.grant_id);
    const evaluations = records.filter((r) => r.kind === 'evaluation');
    expect(evaluations.map((r) => r.id)).toEqual(answers.map((a) => a.context?.decision_id));
    expect(evaluations.map((r) => r.outcome)).toEqual([
      'permit',
      'deny',
      'permit',
      'deny',
      'permit',
    ]);
    expect(evaluations.map((r) => r.reasons[0])).toEqual([
      'permit',
      'foreign_resource',
      'permit',
      'foreign_resource',
      'permit',
    ]);
    for (const r of evaluations) {
      expect(r.client_id).toBe(agent.client_id);
      expect(r.inputs).toMatchObject({ caller: resource.client_id, subject: agent.client_id });
      // The token is an input of the call but never of the record.
      expect(JSON.stringify(r)).not.toContain(t.access_token);
    }
    expect(evaluations[0]?.inputs).toMatchObject({
      action: 'search',
      resource: CRM,
      context: { ip: '203.0.113.9', step: 'search' },
    });
  });
});

describe('an expired token', () => {
  let short: TestBroker;
  beforeAll(async () => {
    short = await startTestBroker({
      config: `${POLICY_CONFIG}\ntokens: { access_ttl: 1, clock_tolerance: 0 }\n`,
    });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('is denied once its exp has passed, and the call is still recorded', async () => {
    const clients = await createClients(short.url, { groups: ['writers'] });
    const t = await mintToken(short.url, clients.agent, stepTask());
    expect(t.expires_in).toBe(1);
    await sleep(2500);
    const res = await evaluate(
      short.url,
      clients.resource,
      evaluationRequest(clients.agent.client_id, t.access_token, 'search', CRM, 'search'),
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.decision).toBe(false);
    expect(res.body.context?.reason_admin?.code).toBe('token_expired');
    const id = res.body.context?.decision_id;
    const record = (await latestDecisions(short.url, 50)).find((r) => r.id === id);
    expect(record).toMatchObject({ kind: 'evaluation', outcome: 'deny' });
  });
});

describe('batch evaluation', () => {
  /** Top-level defaults (subject, resource) filled into each item, as AuthZEN batches do. */
  function batch(token: string, items: Array<[string, string]>, options?: Record<string, unknown>) {
    return {
      subject: { type: 'agent', id: agent.client_id, properties: { token } },
      resource: { type: 'resource', id: CRM },
      evaluations: items.map(([action, step]) => ({
        action: { name: action },
        context: { ip: '203.0.113.9', step },
      })),
      ...(options ? { options } : {}),
    };
  }

  it('answers every evaluation in order, each recorded', async () => {
    const t = await freshToken();
    const res = await postAuthzen(
      base,
      '/access/v1/evaluations',
      batch(t.access_token, [
        ['search', 'search'],
        ['search', 'search'],
        ['read', 'read'],
      ]),
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    const results = res.body.evaluations ?? [];
    expect(results.map((r) => r.decision)).toEqual([true, true, true]);
    const evaluations = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation',
    );
    expect(evaluations.map((r) => r.id)).toEqual(results.map((r) => r.context?.decision_id));
    expect(evaluations.map((r) => r.inputs.action)).toEqual(['search', 'search', 'read']);
  });

  it('deny_on_first_deny stops at the first deny and decides nothing after it', async () => {
    const t = await freshToken();
    const res = await postAuthzen(
      base,
      '/access/v1/evaluations',
      batch(
        t.access_token,
        [
          ['search', 'search'],
          ['write', 'read'],
          ['read', 'read'],
        ],
        { evaluations_semantic: 'deny_on_first_deny' },
      ),
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    expect((res.body.evaluations ?? []).map((r) => r.decision)).toEqual([true, false]);
    const evaluations = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation',
    );
    expect(evaluations.map((r) => r.inputs.action)).toEqual(['search', 'write']);
  });

  it('an item may override the defaults (another subject is refused)', async () => {
    const t = await freshToken();
    const body = batch(t.access_token, [['search', 'search']]);
    const res = await postAuthzen(
      base,
      '/access/v1/evaluations',
      {
        ...body,
        evaluations: [
          ...body.evaluations,
          {
            subject: { type: 'agent', id: 'somebody-else', properties: { token: t.access_token } },
            action: { name: 'search' },
            context: { step: 'search' },
          },
        ],
      },
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    expect(
      (res.body.evaluations ?? []).map((r) => [r.decision, r.context?.reason_admin?.code]),
    ).toEqual([
      [true, undefined],
      [false, 'subject_mismatch'],
    ]);
  });
});

describe('PDP metadata', () => {
  it('GET /.well-known/authzen-configuration names this issuer and both endpoints', async () => {
    const res = await fetch(`${base}/.well-known/authzen-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, string>;
    expect(meta.policy_decision_point).toBe(base);
    expect(meta.access_evaluation_endpoint).toBe(`${base}/access/v1/evaluation`);
    expect(meta.access_evaluations_endpoint).toBe(`${base}/access/v1/evaluations`);
    // The advertised endpoint is the one that answers.
    const t = await freshToken();
    const answer = await postAuthzen(
      base,
      new URL(meta.access_evaluation_endpoint as string).pathname as '/access/v1/evaluation',
      evaluationRequest(agent.client_id, t.access_token, 'search', CRM, 'search'),
      basicAuth(resource),
    );
    expect(answer.body.decision).toBe(true);
  });
});

describe('bad input', () => {
  it('answers 4xx in the AuthZEN shape and records no permit', async () => {
    const t = await freshToken();
    const good = evaluationRequest(agent.client_id, t.access_token, 'search', CRM, 'search');
    const { subject: _s, ...noSubject } = good;
    const small = { action: { name: 'search' }, context: { step: 'search' } };
    const cases: Array<{
      name: string;
      path: '/access/v1/evaluation' | '/access/v1/evaluations';
      body: unknown;
      auth: string | null;
      type?: string;
      status: number;
    }> = [
      {
        name: 'missing subject',
        path: '/access/v1/evaluation',
        body: noSubject,
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'action as a string',
        path: '/access/v1/evaluation',
        body: { ...good, action: 'search' },
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'subject without token',
        path: '/access/v1/evaluation',
        body: { ...good, subject: { type: 'agent', id: agent.client_id } },
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'not JSON',
        path: '/access/v1/evaluation',
        body: '{"subject":',
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'a JSON array',
        path: '/access/v1/evaluation',
        body: [good],
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'wrong content type',
        path: '/access/v1/evaluation',
        body: JSON.stringify(good),
        auth: basicAuth(resource),
        type: 'text/plain',
        status: 415,
      },
      {
        name: 'form content type',
        path: '/access/v1/evaluation',
        body: JSON.stringify(good),
        auth: basicAuth(resource),
        type: 'application/x-www-form-urlencoded',
        status: 415,
      },
      {
        name: 'no authentication',
        path: '/access/v1/evaluation',
        body: good,
        auth: null,
        status: 401,
      },
      {
        name: 'wrong secret',
        path: '/access/v1/evaluation',
        body: good,
        auth: basicAuth({ ...resource, client_secret: 'x'.repeat(43) }),
        status: 401,
      },
      {
        name: 'bearer token instead of client auth',
        path: '/access/v1/evaluation',
        body: good,
        auth: `Bearer ${t.access_token}`,
        status: 401,
      },
      {
        name: 'an agent client',
        path: '/access/v1/evaluation',
        body: good,
        auth: basicAuth(agent),
        status: 403,
      },
      {
        name: '1,000 evaluations',
        path: '/access/v1/evaluations',
        body: {
          subject: good.subject,
          resource: good.resource,
          evaluations: Array.from({ length: 1000 }, () => small),
        },
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'empty batch',
        path: '/access/v1/evaluations',
        body: { subject: good.subject, resource: good.resource, evaluations: [] },
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'batch item left incomplete',
        path: '/access/v1/evaluations',
        body: { resource: good.resource, evaluations: [small] },
        auth: basicAuth(resource),
        status: 400,
      },
      {
        name: 'batch from an agent',
        path: '/access/v1/evaluations',
        body: { ...good, evaluations: [small] },
        auth: basicAuth(agent),
        status: 403,
      },
    ];
    for (const c of cases) {
      const res = await postAuthzen(base, c.path, c.body, c.auth, c.type);
      expect(res.status, `${c.name}: ${res.text}`).toBe(c.status);
      expect(res.body.decision, c.name).toBe(false);
      expect(typeof res.body.context?.reason_admin?.code, `${c.name}: ${res.text}`).toBe('string');
      expect(res.headers.get('content-type') ?? '', c.name).toContain('application/json');
    }
    const permits = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation' && r.outcome === 'permit',
    );
    expect(permits).toHaveLength(0);
    // Nothing advanced the task either: its first step is still open and permitted.
    expect((await decide(t.access_token, 'search', 'search')).decision).toBe(true);
  });

  it('refuses a 1 MB body with 413 in the AuthZEN shape, for single and batch', async () => {
    const t = await freshToken();
    const huge = JSON.stringify({
      ...evaluationRequest(agent.client_id, t.access_token, 'search', CRM, 'search'),
      context: { step: 'search', padding: 'x'.repeat(1024 * 1024) },
    });
    for (const path of ['/access/v1/evaluation', '/access/v1/evaluations']) {
      const res = await postOnFreshConnection(`${base}${path}`, huge, {
        'content-type': 'application/json',
        authorization: basicAuth(resource),
      });
      expect(res, path).not.toBe('closed');
      if (res === 'closed') continue;
      expect(res.status, `${path}: ${res.body}`).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({
        decision: false,
        context: { reason_admin: { code: expect.any(String) } },
      });
    }
    const records = (await decisionsOfGrant(base, t.grant_id)).filter(
      (r) => r.kind === 'evaluation',
    );
    expect(records).toHaveLength(0);
  });
});
