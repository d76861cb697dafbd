// Nested and oversized JSON at every JSON-taking endpoint of a real broker process: a 4xx in the endpoint's shape, and the process lives.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ADMIN_TOKEN,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  deleteKeysUnder,
  mintToken,
  type TokenBody,
  task,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker } from '../support/test-broker.ts';

/** Body limits high enough that a 100k-deep value reaches the JSON parser instead of the 413. */
const BODY_LIMIT = 1_000_000;

type Shape = 'authzen' | 'problem' | 'oauth';

interface Target {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly shape: Shape;
  readonly headers: () => Record<string, string>;
  /** A valid body; the hostile value goes somewhere inside it. */
  readonly base: () => unknown;
  /** For a form field: the field the JSON is sent in (the rest of the form as given). */
  readonly form?: { field: string; rest: Record<string, string> };
}

/** `depth` arrays (or objects) nested, as text: JSON.stringify itself cannot write them. */
const deepText = (depth: number, kind: 'array' | 'object') =>
  kind === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** A marker that JSON.stringify writes as a string, replaced afterwards by the raw hostile text. */
const HOLE = '\u0000hostile\u0000';

describe('JSON bounds on a real broker process', () => {
  let proc: BrokerProcess;
  let prefix: string;
  let agent: Credentials;
  let resource: Credentials;
  let token: TokenBody;
  let targets: Target[];

  beforeAll(async () => {
    prefix = uniquePrefix('request-bounds');
    proc = await spawnBrokerProcess({
      redisUrl: inject('redisUrl'),
      prefix,
      config: `server:\n  body_limit_bytes: ${BODY_LIMIT}\n  batch_body_limit_bytes: ${BODY_LIMIT}\nrate_limit:\n  invalid_tokens_per_minute: 100000\n`,
    });
    ({ agent, resource } = await createClients(proc.url));
    token = await mintToken(proc.url, agent, [task(['read'])]);
    const bearer = () => ({
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/json',
    });
    const basic = (c: Credentials) => () => ({
      authorization: basicAuth(c),
      'content-type': 'application/json',
    });
    const evaluation = () => ({
      subject: { type: 'agent', id: agent.client_id, properties: { token: token.access_token } },
      action: { name: 'read' },
      resource: { type: 'url', id: CRM },
      context: { ip: '10.0.0.1', note: 'x' },
    });
    targets = [
      {
        name: 'AuthZEN evaluation',
        method: 'POST',
        path: '/access/v1/evaluation',
        shape: 'authzen',
        headers: basic(resource),
        base: evaluation,
      },
      {
        name: 'AuthZEN batch',
        method: 'POST',
        path: '/access/v1/evaluations',
        shape: 'authzen',
        headers: basic(resource),
        base: () => ({ ...evaluation(), evaluations: [{}, { action: { name: 'read' } }] }),
      },
      {
        name: 'signal (resource)',
        method: 'POST',
        path: '/v1/signals',
        shape: 'problem',
        headers: basic(resource),
        base: () => ({ grant_id: token.grant_id, type: 'ip_changed', context: { ip: '10.0.0.2' } }),
      },
      {
        name: 'signal (admin)',
        method: 'POST',
        path: '/v1/signals',
        shape: 'problem',
        headers: bearer,
        base: () => ({ grant_id: token.grant_id, type: 'ip_changed', context: { ip: '10.0.0.2' } }),
      },
      {
        name: 'client create',
        method: 'POST',
        path: '/admin/clients',
        shape: 'problem',
        headers: bearer,
        base: () => ({ name: 'n', kind: 'agent', groups: ['g'], attributes: { team: 'a' } }),
      },
      {
        name: 'client patch',
        method: 'PATCH',
        path: `/admin/clients/${agent.client_id}`,
        shape: 'problem',
        headers: bearer,
        base: () => ({ attributes: { team: 'b' } }),
      },
      {
        name: 'revocation',
        method: 'POST',
        path: '/admin/revocations',
        shape: 'problem',
        headers: bearer,
        base: () => ({ grant_id: 'g-none', reason: 'test' }),
      },
      {
        name: 'policy simulate',
        method: 'POST',
        path: '/admin/policies/simulate',
        shape: 'problem',
        headers: bearer,
        base: () => ({ policies: 'permit(principal, action, resource);' }),
      },
      {
        name: 'policy replace',
        method: 'PUT',
        path: '/admin/policies',
        shape: 'problem',
        headers: bearer,
        base: () => ({ policies: 'permit(principal, action, resource);' }),
      },
      {
        name: 'approval decision',
        method: 'POST',
        path: '/admin/approvals/a-none',
        shape: 'problem',
        headers: bearer,
        base: () => ({ decision: 'deny', note: 'n' }),
      },
      {
        name: 'receiver create',
        method: 'POST',
        path: '/admin/receivers',
        shape: 'problem',
        headers: bearer,
        base: () => ({ id: 'r1', url: 'https://rs.example.com/caep' }),
      },
      {
        name: 'authorization_details (mint)',
        method: 'POST',
        path: '/oauth/token',
        shape: 'oauth',
        headers: () => ({
          authorization: basicAuth(agent),
          'content-type': 'application/x-www-form-urlencoded',
        }),
        base: () => [task(['read'])],
        form: { field: 'authorization_details', rest: { grant_type: 'client_credentials' } },
      },
      {
        name: 'authorization_details (refresh elevation)',
        method: 'POST',
        path: '/oauth/token',
        shape: 'oauth',
        headers: () => ({
          authorization: basicAuth(agent),
          'content-type': 'application/x-www-form-urlencoded',
        }),
        base: () => [
          task(['read', 'write'], { taskId: String(token.authorization_details[0]?.task_id) }),
        ],
        form: {
          field: 'authorization_details',
          rest: { grant_type: 'refresh_token', refresh_token: token.refresh_token },
        },
      },
    ];
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
    if (prefix) await deleteKeysUnder(inject('redisUrl'), prefix);
  });

  /** Sends `json` (text) to the target, as the body or as its form field. */
  async function send(
    t: Target,
    json: string,
  ): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
    const body = t.form
      ? new URLSearchParams({ ...t.form.rest, [t.form.field]: json }).toString()
      : json;
    const res = await fetch(`${proc.url}${t.path}`, {
      method: t.method,
      headers: t.headers(),
      body,
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { raw: text };
    }
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: parsed };
  }

  /** A 4xx in the endpoint's own error shape (a 413 when the body limit caught it first). */
  function expectRefused(t: Target, res: Awaited<ReturnType<typeof send>>, what: string) {
    const where = `${t.name} with ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    expect(res.status, where).toBeGreaterThanOrEqual(400);
    expect(res.status, where).toBeLessThan(500);
    if (t.shape === 'authzen') {
      expect(res.body.decision, where).toBe(false);
      expect(
        (res.body.context as { reason_admin?: { code?: string } }).reason_admin?.code,
        where,
      ).toBe('invalid_request');
    } else if (t.shape === 'problem') {
      expect(res.type, where).toMatch(/^application\/problem\+json/);
      expect(res.body.status, where).toBe(res.status);
    } else {
      expect(res.type, where).toMatch(/^application\/json/);
      // invalid_request only when the body limit refused the form before the field was read.
      expect(['invalid_authorization_details', 'invalid_request'], where).toContain(res.body.error);
    }
  }

  /** The target's valid body with `hostile` (raw JSON text) as the value of `field` in its first object. */
  function withHostile(t: Target, hostile: string, field = 'x'): string {
    const base = t.base() as Record<string, unknown> | Array<Record<string, unknown>>;
    const host = Array.isArray(base)
      ? (base[0] as Record<string, unknown>)
      : ((base.context as Record<string, unknown> | undefined) ?? base);
    host[field] = HOLE;
    return JSON.stringify(base).replace(JSON.stringify(HOLE), hostile);
  }

  async function expectAlive() {
    expect(proc.child.exitCode).toBeNull();
    expect(proc.child.signalCode).toBeNull();
    expect((await fetch(`${proc.url}/healthz`)).status).toBe(200);
  }

  it('a 100k-deep value at every JSON-taking endpoint and form field: 400 in its shape, the process lives', async () => {
    for (const t of targets) {
      // Form-encoding triples each bracket: keep the field within the body limit.
      const depth = t.form ? 30_000 : 100_000;
      for (const kind of ['array', 'object'] as const) {
        const res = await send(t, withHostile(t, deepText(depth, kind)));
        expectRefused(t, res, `${kind} nested ${depth} deep`);
        expect(res.status).toBe(400);
      }
    }
    await expectAlive();
  });

  it("the review's probes: a nested AuthZEN context and a nested signal context are 400, not 503 or a crash", async () => {
    const evaluation = targets[0] as Target;
    const res = await send(evaluation, withHostile(evaluation, deepText(100_000, 'array'), 'n'));
    expect(res.status).toBe(400);
    expect(String((res.body.context as { reason_admin: { en: string } }).reason_admin.en)).toMatch(
      /^context\.n(\.0)+: nested deeper than 32 levels$/,
    );
    const signal = targets[2] as Target;
    const sig = await send(signal, withHostile(signal, deepText(40, 'object'), 'n'));
    expect(sig.status).toBe(400);
    expect(String(sig.body.detail)).toMatch(/^context\.n(\.a)+: nested deeper than 32 levels$/);
    await expectAlive();
  });

  it('values just within the bounds are still served (depth 30 context, 1000-item array)', async () => {
    const evaluation = targets[0] as Target;
    const ok = await send(evaluation, withHostile(evaluation, deepText(28, 'object')));
    expect(ok.status).toBe(200);
    expect(typeof ok.body.decision).toBe('boolean');
    const wide = await send(
      evaluation,
      withHostile(evaluation, JSON.stringify(Array.from({ length: 1000 }, (_, i) => i))),
    );
    expect(wide.status).toBe(200);
    // On a grant of its own: the signal's re-evaluation may change it, and the other cases need theirs.
    const other = await mintToken(proc.url, agent, [task(['read'])]);
    const own: Target = {
      ...(targets[2] as Target),
      base: () => ({ grant_id: other.grant_id, type: 'ip_changed', context: {} }),
    };
    const signal = await send(own, withHostile(own, deepText(28, 'object')));
    expect(signal.status).toBe(202);
    await expectAlive();
  });

  it('property: a nested or oversized value anywhere in any JSON body gets a 4xx, and the process lives', async () => {
    /** Raw JSON text that breaks at least one default limit (depth 32, 10k values, 1000 members, 64k chars). */
    const hostile = fc.oneof(
      fc
        .record({
          depth: fc.integer({ min: 33, max: 20_000 }),
          kind: fc.constantFrom('array' as const, 'object' as const),
        })
        .map(({ depth, kind }) => deepText(depth, kind)),
      fc
        .integer({ min: 1001, max: 5000 })
        .map((n) => JSON.stringify(Array.from({ length: n }, () => 0))),
      fc
        .integer({ min: 1001, max: 3000 })
        .map((n) =>
          JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
        ),
      fc
        .integer({ min: 11, max: 40 })
        .map((n) =>
          JSON.stringify(Array.from({ length: n }, () => Array.from({ length: 999 }, () => 1))),
        ),
      fc.integer({ min: 65_537, max: 200_000 }).map((n) => JSON.stringify('s'.repeat(n))),
    );
    /** Where it goes: a path of indices into the base body's containers, and the member name it takes. */
    const placement = fc.record({
      steps: fc.array(fc.nat(), { maxLength: 4 }),
      key: fc.constantFrom('x', 'context', 'properties', 'attributes', 'ttl', '__proto__'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 1000 }),
        hostile,
        placement,
        async (pick, text, { steps, key }) => {
          const t = targets[pick % targets.length] as Target;
          const base = t.base() as unknown;
          // Walk down the base body's own containers; the hostile value joins the last one reached.
          let at = base as Record<string, unknown> | unknown[];
          for (const step of steps) {
            const children = Object.values(at).filter(
              (v): v is Record<string, unknown> => typeof v === 'object' && v !== null,
            );
            if (children.length === 0) break;
            at = children[step % children.length] as Record<string, unknown>;
          }
          if (Array.isArray(at)) at.push(HOLE);
          else
            Object.defineProperty(at, key, {
              value: HOLE,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          const res = await send(t, JSON.stringify(base).replace(JSON.stringify(HOLE), text));
          expectRefused(t, res, `a hostile value at ${steps.join('.')}/${key}`);
          expect(proc.child.exitCode).toBeNull();
        },
      ),
      { numRuns: 80, seed: Number(process.env.FC_SEED ?? 16_001) },
    );
    await expectAlive();
  }, 120_000);
});

describe('the decision log behind the bounds', () => {
  it('a record too deep to serialise is refused alone: the log is not left stuck and the process does not crash', async () => {
    const broker = await startTestBroker();
    try {
      const log = broker.mandate.deps.broker.decisions;
      let deep: unknown = [];
      for (let i = 0; i < 100_000; i++) deep = [deep];
      const bad = log.record({ kind: 'policy', outcome: 'x', reasons: [], inputs: { deep } });
      const good = log.record({
        kind: 'policy',
        outcome: 'y',
        reasons: [],
        inputs: { fine: true },
      });
      await expect(bad).rejects.toThrow(RangeError);
      await expect(good).resolves.toMatchObject({ outcome: 'y' });
      await expect(
        log.record({ kind: 'policy', outcome: 'z', reasons: [], inputs: {} }),
      ).resolves.toMatchObject({ outcome: 'z' });
    } finally {
      await broker.close();
    }
  });
});
