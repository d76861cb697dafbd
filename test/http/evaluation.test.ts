// POST /access/v1/evaluation(s) through app.request(): AuthZEN decisions, refusals of bad input, caller checks.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EvaluationBody, evaluationRequest, POLICY_CONFIG } from '../support/action-time.ts';
import { basicAuth, CRM, type Credentials, type TokenBody, task } from '../support/broker.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let agent: Credentials;
let resource: Credentials;
/** A fresh grant per test: a denied probe outside a grant may end that grant. */
let token: TokenBody;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-evaluation', config: `${POLICY_CONFIG}\n` });
  ({ agent, resource } = await t.clients({ groups: ['writers'], resources: [CRM] }));
});

beforeEach(async () => {
  token = await t.mint(agent, [task(['read', 'write'])]);
});

afterAll(async () => {
  await t?.close();
});

const good = () => evaluationRequest(agent.client_id, token.access_token, 'read', CRM);

/** An AuthZEN refusal: decision false with a reason code, in JSON. */
function expectRefusal(
  res: { status: number; body: EvaluationBody; headers: Headers },
  status: number,
) {
  expect(res.status).toBe(status);
  expect(res.body.decision).toBe(false);
  expect(typeof res.body.context?.reason_admin?.code).toBe('string');
  expect(res.headers.get('content-type') ?? '').toContain('application/json');
}

describe('POST /access/v1/evaluation: happy', () => {
  it('permits an action the grant holds, with a decision id', async () => {
    const res = await t.json<EvaluationBody>('/access/v1/evaluation', good(), basicAuth(resource));
    expect(res.status, res.text).toBe(200);
    expect(res.body.decision).toBe(true);
    expect(typeof res.body.context?.decision_id).toBe('string');
  });

  it('denies an action outside the grant (outside_grant)', async () => {
    const res = await t.json<EvaluationBody>(
      '/access/v1/evaluation',
      evaluationRequest(agent.client_id, token.access_token, 'delete', CRM),
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.decision).toBe(false);
    expect(res.body.context?.reason_admin?.code).toBe('outside_grant');
  });

  it('answers a batch in order', async () => {
    const { subject, resource: target } = good();
    const res = await t.json<EvaluationBody>(
      '/access/v1/evaluations',
      {
        subject,
        resource: target,
        evaluations: ['read', 'delete'].map((name) => ({
          action: { name },
          context: { ip: '203.0.113.9' },
        })),
      },
      basicAuth(resource),
    );
    expect(res.status, res.text).toBe(200);
    expect(
      res.body.evaluations?.map((e) => e.decision),
      res.text,
    ).toEqual([true, false]);
  });
});

describe('POST /access/v1/evaluation: errors', () => {
  it('not JSON: 400', async () => {
    const res = await t.request<EvaluationBody>('/access/v1/evaluation', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
      body: '{"subject":',
    });
    expectRefusal(res, 400);
  });

  it('a wrong content type: 415', async () => {
    const res = await t.request<EvaluationBody>('/access/v1/evaluation', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: basicAuth(resource) },
      body: JSON.stringify(good()),
    });
    expectRefusal(res, 415);
  });

  it('a subject without its token: 400', async () => {
    const res = await t.json<EvaluationBody>(
      '/access/v1/evaluation',
      { ...good(), subject: { type: 'agent', id: agent.client_id } },
      basicAuth(resource),
    );
    expectRefusal(res, 400);
  });
});

describe('POST /access/v1/evaluation: security', () => {
  it('no authentication, a wrong secret, a bearer token: 401', async () => {
    for (const auth of [
      undefined,
      basicAuth({ ...resource, client_secret: 'x'.repeat(43) }),
      `Bearer ${token.access_token}`,
    ]) {
      const res = await t.json<EvaluationBody>('/access/v1/evaluation', good(), auth);
      expectRefusal(res, 401);
    }
  });

  it('an agent client may not ask: 403', async () => {
    expectRefusal(
      await t.json<EvaluationBody>('/access/v1/evaluation', good(), basicAuth(agent)),
      403,
    );
  });

  it('a token whose subject is another client is not permitted', async () => {
    const res = await t.json<EvaluationBody>(
      '/access/v1/evaluation',
      evaluationRequest('someone-else', token.access_token, 'read', CRM),
      basicAuth(resource),
    );
    expect(res.body.decision).toBe(false);
  });
});
