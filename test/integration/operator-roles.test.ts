// Operator tokens and roles over real HTTP: every admin route's permission from /openapi.json, revocation across processes, bootstrap rules.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Permission, ROLES, type Role, rolesAllow } from '../../src/domain/operator.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { POLICY_CONFIG } from '../support/action-time.ts';
import { admin, CRM, createClient, deleteKeysUnder, requestToken } from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

interface Created {
  id: string;
  name: string;
  roles: Role[];
  token: string;
  expires_at: number | null;
}

interface Operation {
  method: string;
  path: string;
  permission: Permission | undefined;
}

let a: TestBroker;
let b: TestBroker;
const tokens = {} as Record<Role, Created>;

async function createToken(base: string, name: string, roles: Role[], ttl?: number) {
  const res = await admin<Created>(base, 'POST', '/admin/tokens', {
    name,
    roles,
    ...(ttl ? { ttl } : {}),
  });
  expect(res.status, res.text).toBe(201);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return res.body;
}

/** Every admin operation /openapi.json documents, with its declared permission. */
async function adminOperations(base: string): Promise<Operation[]> {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/admin/')) continue;
    for (const [method, op] of Object.entries(ops))
      out.push({
        method: method.toUpperCase(),
        path,
        permission: op['x-mandate-permission'] as Permission | undefined,
      });
  }
  return out;
}

/** Calls one operation with a harmless request: an unknown id, an empty JSON body. */
function callOperation(base: string, op: Operation, token: string) {
  const path = op.path.replace(/\{[^}]+\}/g, 'no-such-id');
  return admin(base, op.method, path, op.method === 'GET' ? undefined : {}, token);
}

beforeAll(async () => {
  a = await startTestBroker({ name: 'operators', config: `${POLICY_CONFIG}\n` });
  // A second broker process on the same Redis and prefix.
  b = await startTestBroker({ prefix: a.prefix, config: `${POLICY_CONFIG}\n` });
  for (const role of ROLES) tokens[role] = await createToken(a.url, `${role} on call`, [role]);
});

afterAll(async () => {
  await b?.close();
  await a?.close();
});

describe('operator roles on every admin route', () => {
  it('every admin operation declares a permission', async () => {
    const ops = await adminOperations(a.url);
    expect(ops.length).toBeGreaterThanOrEqual(20);
    expect(ops.filter((op) => op.permission === undefined)).toEqual([]);
    expect(ops.map((op) => `${op.method} ${op.path}`)).toEqual(
      expect.arrayContaining([
        'POST /admin/tokens',
        'GET /admin/tokens',
        'DELETE /admin/tokens/{id}',
      ]),
    );
  });

  it('each role gets 403 problem+json exactly where the contract withholds the permission', async () => {
    const ops = await adminOperations(a.url);
    for (const op of ops) {
      for (const role of ROLES) {
        const res = await callOperation(a.url, op, tokens[role].token);
        const allowed = rolesAllow([role], op.permission as Permission);
        const what = `${role} ${op.method} ${op.path} -> ${res.status} ${res.text.slice(0, 200)}`;
        if (allowed) expect(res.status, what).not.toBe(403);
        else {
          expect(res.status, what).toBe(403);
          expect(res.headers.get('content-type')).toContain('application/problem+json');
          expect(res.body.permission).toBe(op.permission);
        }
      }
    }
  });

  it('a viewer is refused every write route, and only reads clients, grants and approvals', async () => {
    const ops = await adminOperations(a.url);
    const writes = ops.filter((op) => op.method !== 'GET');
    expect(writes.length).toBeGreaterThanOrEqual(10);
    for (const op of writes)
      expect((await callOperation(a.url, op, tokens.viewer.token)).status).toBe(403);
    const viewer = tokens.viewer.token;
    expect((await admin(a.url, 'GET', '/admin/clients', undefined, viewer)).status).toBe(200);
    expect((await admin(a.url, 'GET', '/admin/grants', undefined, viewer)).status).toBe(200);
    expect((await admin(a.url, 'GET', '/admin/approvals', undefined, viewer)).status).toBe(200);
    expect((await admin(a.url, 'GET', '/admin/decisions', undefined, viewer)).status).toBe(403);
    expect((await admin(a.url, 'GET', '/admin/policies', undefined, viewer)).status).toBe(403);
  });

  it('an approver decides an approval (decided_by is its token id) but cannot push policy', async () => {
    const agent = await createClient(a.url, {
      name: 'exporter',
      kind: 'agent',
      groups: ['exporters', 'writers'],
    });
    const asked = await requestToken(a.url, agent, [
      { type: 'agent_task', task_id: 'T-roles', actions: ['read', 'export'], locations: [CRM] },
    ]);
    expect(asked.status, asked.text).toBe(400);
    const id = String(asked.body.auth_req_id);
    const approver = tokens.approver;
    const decided = await admin(
      a.url,
      'POST',
      `/admin/approvals/${id}`,
      { decision: 'approve', note: 'ok' },
      approver.token,
    );
    expect(decided.status, decided.text).toBe(200);
    expect(decided.body.decided_by).toBe(approver.id);
    const history = await admin<{ decisions: Array<{ kind: string; inputs: { by?: string } }> }>(
      a.url,
      'GET',
      `/admin/decisions?client_id=${agent.client_id}`,
      undefined,
      approver.token,
    );
    expect(history.status).toBe(200);
    expect(history.body.decisions.find((d) => d.kind === 'approval')?.inputs.by).toBe(approver.id);
    const push = await admin(
      a.url,
      'PUT',
      '/admin/policies',
      { policies: 'permit(principal, action, resource);' },
      approver.token,
    );
    expect(push.status).toBe(403);
    expect(push.body.permission).toBe('policies:write');
  });

  it('an auditor reads decisions and policies and verifies the audit chain, but revokes nothing', async () => {
    const auditor = tokens.auditor.token;
    const verify = await admin(a.url, 'GET', '/admin/audit/verify', undefined, auditor);
    expect(verify.status, verify.text).toBe(200);
    expect(verify.body.ok).toBe(true);
    expect((await admin(a.url, 'GET', '/admin/decisions', undefined, auditor)).status).toBe(200);
    expect((await admin(a.url, 'GET', '/admin/policies', undefined, auditor)).status).toBe(200);
    const revoke = await admin(
      a.url,
      'POST',
      '/admin/revocations',
      { client_id: 'x', reason: 'test' },
      auditor,
    );
    expect(revoke.status).toBe(403);
  });

  it('only an admin reports signals with a bearer token', async () => {
    const signal = { type: 'ip_changed', client_id: 'nobody', context: { ip: '198.51.100.1' } };
    const res = await admin(a.url, 'POST', '/v1/signals', signal, tokens.viewer.token);
    expect(res.status).toBe(403);
    expect((await admin(a.url, 'POST', '/v1/signals', signal, tokens.admin.token)).status).not.toBe(
      403,
    );
  });
});

describe('operator tokens', () => {
  it('lists tokens (with the configured bootstrap) and never a token', async () => {
    const res = await admin<{ tokens: Array<Record<string, unknown>> }>(
      a.url,
      'GET',
      '/admin/tokens',
    );
    expect(res.status).toBe(200);
    const ids = res.body.tokens.map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining(['bootstrap', ...ROLES.map((r) => tokens[r].id)]));
    for (const role of ROLES) expect(res.text).not.toContain(tokens[role].token);
    expect(res.text).not.toMatch(/mat_/);
    expect(res.body.tokens.find((t) => t.id === tokens.viewer.id)).toMatchObject({
      roles: ['viewer'],
      created_by: 'bootstrap',
      expires_at: null,
    });
  });

  it('a revoked token is refused at once by the other broker process', async () => {
    const t = await createToken(a.url, 'short-lived', ['viewer'], 3600);
    expect(t.expires_at).toBeGreaterThan(Date.now() / 1000);
    expect((await admin(b.url, 'GET', '/admin/clients', undefined, t.token)).status).toBe(200);
    const revoked = await admin(a.url, 'DELETE', `/admin/tokens/${t.id}`);
    expect(revoked.status, revoked.text).toBe(200);
    const refused = await admin(b.url, 'GET', '/admin/clients', undefined, t.token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('Bearer');
    expect((await admin(a.url, 'DELETE', `/admin/tokens/${t.id}`)).status).toBe(404);
  });

  it('refuses bad input with problem+json and changes nothing', async () => {
    for (const body of [
      { name: 'x', roles: [] },
      { name: 'x', roles: ['root'] },
      { name: 'x', roles: ['viewer', 'viewer'] },
      { name: '', roles: ['viewer'] },
      { name: 'x', roles: ['viewer'], ttl: 5 },
      { name: 'x', roles: ['viewer'], extra: 1 },
    ]) {
      const res = await admin(a.url, 'POST', '/admin/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await admin(a.url, 'DELETE', '/admin/tokens/bootstrap')).status).toBe(409);
  });

  it('records who created a token, never the token', async () => {
    const res = await admin<{
      decisions: Array<{ kind: string; outcome: string; inputs: Record<string, unknown> }>;
    }>(a.url, 'GET', '/admin/decisions?limit=1000');
    const created = res.body.decisions.filter(
      (d) => d.kind === 'operator' && d.outcome === 'token_created',
    );
    expect(created.length).toBeGreaterThanOrEqual(4);
    expect(created[0]?.inputs.by).toBe('bootstrap');
    expect(res.text).not.toMatch(/mat_/);
  });
});

describe('the bootstrap token', () => {
  const redisUrl = () => inject('redisUrl');
  async function storedTokens(prefix: string): Promise<number> {
    const redis = new Redis(redisUrl());
    try {
      return await redis.hlen(createKeyNames(prefix).operatorTokens);
    } finally {
      redis.disconnect();
    }
  }

  it('is generated by the first start without MANDATE_ADMIN_TOKEN, and by no later start', async () => {
    const prefix = uniquePrefix('boot');
    const first = await startTestBroker({ prefix, env: { MANDATE_ADMIN_TOKEN: '' } });
    try {
      expect(await storedTokens(prefix)).toBe(1);
      expect(await first.deps.bootstrapAdminToken()).toBeUndefined();
      const second = await startTestBroker({ prefix, env: { MANDATE_ADMIN_TOKEN: '' } });
      await second.close();
      expect(await storedTokens(prefix)).toBe(1);
    } finally {
      await first.close();
      await deleteKeysUnder(redisUrl(), prefix);
    }
  });

  it('is not generated when an operator token exists, and never by `mandate worker`', async () => {
    const prefix = uniquePrefix('boot');
    const worker = await startTestBroker({
      prefix,
      api: false,
      worker: true,
      env: { MANDATE_ADMIN_TOKEN: '' },
    });
    await worker.close();
    expect(await storedTokens(prefix)).toBe(0);
    // An operator token created while MANDATE_ADMIN_TOKEN was set; then started without it.
    const configured = await startTestBroker({ prefix });
    const made = await createToken(configured.url, 'ops', ['admin']);
    await configured.close();
    const later = await startTestBroker({ prefix, env: { MANDATE_ADMIN_TOKEN: '' } });
    try {
      expect(await storedTokens(prefix)).toBe(1);
      const res = await admin(later.url, 'GET', '/admin/tokens', undefined, made.token);
      expect(res.status).toBe(200);
      expect((res.body as { tokens: unknown[] }).tokens).toHaveLength(1);
    } finally {
      await later.close();
      await deleteKeysUnder(redisUrl(), prefix);
    }
  });
});
