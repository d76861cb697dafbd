// Policy dry run: POST /admin/policies/simulate predicts what PUT /admin/policies then does, and changes nothing itself.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  actionsOf,
  evaluate,
  evaluationRequest,
  grantView,
  POLICY_CONFIG,
} from '../support/action-time.ts';
import {
  admin,
  CRM,
  type Credentials,
  createClient,
  isActive,
  keysUnder,
  mintToken,
  refresh,
  type TokenBody,
  task,
  waitFor,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const redisUrl = inject('redisUrl');
const READ_ONLY = '@id("read-only")\npermit (principal, action == Action::"read", resource);\n';
// Sweeps every second once a worker runs; the API instance alone has none.
const YAML = `${POLICY_CONFIG}\nworker: { sweep_every_ms: 1000 }\n`;

interface Change {
  grant_id: string;
  client_id: string;
  task_id: string;
  reasons: string[];
  granted?: Array<{ actions: string[]; locations: string[] }>;
}
interface Simulation {
  policy_version_in_force: number;
  counts: { keep: number; narrow: number; suspend: number; revoke: number };
  narrow: Change[];
  suspend: Change[];
  revoke: Change[];
}

let api: TestBroker;
let worker: TestBroker | undefined;
let base: string;
let writer: Credentials;
let reader: Credentials;
let resource: Credentials;
const readWrite: TokenBody[] = [];
const readOnly: TokenBody[] = [];

beforeAll(async () => {
  api = await startTestBroker({ config: YAML });
  base = api.url;
  writer = await createClient(base, { name: 'writer', kind: 'agent', groups: ['writers'] });
  reader = await createClient(base, { name: 'reader', kind: 'agent' });
  resource = await createClient(base, { name: 'crm', kind: 'resource', resources: [CRM] });
  readWrite.push(await mintToken(base, writer, [task(['read', 'write'])]));
  readWrite.push(await mintToken(base, writer, [task(['read', 'write', 'update'])]));
  readOnly.push(await mintToken(base, writer, [task(['read'])]));
  readOnly.push(await mintToken(base, reader, [task(['read'])]));
});

afterAll(async () => {
  await worker?.close();
  await api?.close();
});

async function policyVersion(): Promise<number> {
  const res = await admin<{ version: number }>(base, 'GET', '/admin/policies');
  expect(res.status, res.text).toBe(200);
  return res.body.version;
}

/** Everything a simulation must leave alone: keys under the prefix and each grant's state and history. */
async function snapshot() {
  const grants = [];
  for (const t of [...readWrite, ...readOnly]) {
    const { history, ...g } = await grantView(base, t.grant_id);
    grants.push({ ...g, history: history.map((r) => r.id) });
  }
  return { keys: await keysUnder(redisUrl, api.prefix), grants, version: await policyVersion() };
}

describe('simulate, then apply', () => {
  let predicted: Simulation;

  it('reports narrow for the read+write grants and keep for the read-only ones, changing nothing', async () => {
    const before = await snapshot();
    const res = await admin<Simulation>(base, 'POST', '/admin/policies/simulate', {
      policies: READ_ONLY,
    });
    expect(res.status, res.text).toBe(200);
    predicted = res.body;
    expect(predicted.policy_version_in_force).toBe(before.version);
    expect(predicted.counts).toEqual({
      keep: readOnly.length,
      narrow: readWrite.length,
      suspend: 0,
      revoke: 0,
    });
    expect(predicted.narrow.map((c) => c.grant_id).sort()).toEqual(
      readWrite.map((t) => t.grant_id).sort(),
    );
    for (const change of predicted.narrow) {
      expect(change.client_id).toBe(writer.client_id);
      expect(actionsOf(change.granted)).toEqual(['read']);
      expect(change.reasons).toContain('policy_narrowed');
    }
    expect(predicted.suspend).toEqual([]);
    expect(predicted.revoke).toEqual([]);

    // A dry run: same keys, same grants, same version, and the tokens still work as before.
    expect(await snapshot()).toEqual(before);
    expect(await policyVersion()).toBe(before.version);
    for (const t of [...readWrite, ...readOnly])
      expect(await isActive(base, resource, t.access_token)).toBe(true);
  });

  it('a real PUT with the same set (worker running) does exactly what was predicted', {
    timeout: 30_000,
  }, async () => {
    expect(predicted).toBeDefined();
    const versionBefore = await policyVersion();
    worker = await startTestBroker({
      config: YAML,
      api: false,
      worker: true,
      prefix: api.prefix,
    });
    const put = await admin<{ version: number }>(base, 'PUT', '/admin/policies', {
      policies: READ_ONLY,
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body.version).toBeGreaterThan(versionBefore);
    expect(await policyVersion()).toBe(put.body.version);

    const narrowed = async () => {
      for (const t of readWrite) {
        const g = await grantView(base, t.grant_id);
        if (!g.history.some((r) => r.kind === 'reevaluation')) return false;
      }
      return true;
    };
    expect(await waitFor(narrowed, 15_000)).toBe(true);
    // Give a further sweep the chance to do something it should not.
    await new Promise((r) => setTimeout(r, 1500));

    const predictedById = new Map(predicted.narrow.map((c) => [c.grant_id, c]));
    for (const t of readWrite) {
      const g = await grantView(base, t.grant_id);
      expect(g.status).toBe('active');
      const reev = g.history.filter((r) => r.kind === 'reevaluation');
      expect(reev.map((r) => r.outcome)).toEqual(['narrow']);
      expect(reev[0]?.policy_version).toBe(put.body.version);
      expect(g.granted).toEqual(predictedById.get(t.grant_id)?.granted);
      // The token issued before the narrowing still says write; the resource must not be told yes.
      const write = await evaluate(
        base,
        resource,
        evaluationRequest(writer.client_id, t.access_token, 'write', CRM),
      );
      expect(write.status, write.text).toBe(200);
      expect(write.body.decision).toBe(false);
      const refreshed = await refresh(base, writer, t.refresh_token);
      expect(refreshed.status, refreshed.text).toBe(200);
      expect(actionsOf(refreshed.body.authorization_details)).toEqual(['read']);
    }
    for (const t of readOnly) {
      const g = await grantView(base, t.grant_id);
      expect(g.status).toBe('active');
      expect(g.history.filter((r) => r.kind === 'reevaluation')).toEqual([]);
      expect(actionsOf(g.granted)).toEqual(['read']);
      expect(await isActive(base, resource, t.access_token)).toBe(true);
    }
    // Nothing is left to change: simulating the set now in force predicts keep for all.
    const again = await admin<Simulation>(base, 'POST', '/admin/policies/simulate', {
      policies: READ_ONLY,
    });
    expect(again.body.counts).toEqual({
      keep: readWrite.length + readOnly.length,
      narrow: 0,
      suspend: 0,
      revoke: 0,
    });
  });

  it('GET /admin/grants/{id} shows the history in order, with inputs, outcome and reasons', async () => {
    const t = readWrite[0] as TokenBody;
    const g = await grantView(base, t.grant_id);
    const kinds = g.history.map((r) => `${r.kind}:${r.outcome}`);
    expect(kinds).toEqual([
      'mint:permit',
      'reevaluation:narrow',
      'evaluation:deny',
      'refresh:permit',
    ]);
    const times = g.history.map((r) => r.at_ms);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const r of g.history) {
      expect(r.grant_id).toBe(t.grant_id);
      expect(Array.isArray(r.reasons)).toBe(true);
      expect(typeof r.inputs).toBe('object');
      expect(JSON.stringify(r)).not.toContain(t.access_token);
      expect(JSON.stringify(r)).not.toContain(t.refresh_token);
    }
    const [mint, reev, denied, ref] = g.history;
    // Narrowing revoked the wider token issued before it.
    expect(denied?.reasons).toEqual(['token_revoked']);
    expect(mint?.inputs).toMatchObject({
      request: { grant_type: 'client_credentials' },
      granted: [{ actions: ['read', 'write'] }],
    });
    expect(mint?.reasons).toEqual(
      expect.arrayContaining(['read-style-actions', 'writers-may-change']),
    );
    expect(reev?.reasons).toContain('policy_narrowed');
    expect(reev?.inputs).toMatchObject({
      granted: [{ actions: ['read', 'write'] }],
      narrowed_to: [{ actions: ['read'] }],
    });
    // The change's own job or a scheduled sweep of the new version, whichever ran first (once).
    expect(String(reev?.inputs.cause)).toMatch(/^(policy_change:v\d+|schedule)$/);
    expect(ref?.inputs).toMatchObject({
      request: { grant_type: 'refresh_token' },
      granted: [{ actions: ['read'] }],
    });
    expect(ref?.reasons).toContain('read-only');
  });
});

describe('invalid Cedar', () => {
  const broken =
    'permit (principal, action, resource);\nforbid (principal, action == , resource);\n';
  const invalid = 'permit (principal, action, resource) when { context.no_such_field == 1 };\n';

  for (const path of ['/admin/policies/simulate', '/admin/policies'] as const) {
    it(`${path}: 400 problem+json with line and column; the set in force stays`, async () => {
      const version = await policyVersion();
      for (const text of [broken, invalid]) {
        const res = await admin<{
          status: number;
          detail: string;
          errors?: Array<{ line: number; column: number; message: string }>;
        }>(base, path === '/admin/policies' ? 'PUT' : 'POST', path, { policies: text });
        expect(res.status, res.text).toBe(400);
        expect(res.headers.get('content-type') ?? '').toContain('application/problem+json');
        expect(res.body.status).toBe(400);
        expect(res.body.detail).toMatch(/line \d+, column \d+/);
        const first = res.body.errors?.[0];
        expect(first?.line, res.text).toEqual(expect.any(Number));
        expect(first?.column, res.text).toEqual(expect.any(Number));
        if (text === broken) expect(first?.line).toBe(2);
      }
      expect(await policyVersion()).toBe(version);
    });
  }
});
