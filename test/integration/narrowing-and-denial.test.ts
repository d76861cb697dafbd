// Policy at the token endpoint: narrowing, denial with nothing stored, malformed intents, and a policy change on refresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  CRM,
  type Credentials,
  createClient,
  createClients,
  isActive,
  mintToken,
  oauthPost,
  refresh,
  requestToken,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

describe('narrowing and denial', () => {
  let broker: TestBroker;
  let writer: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent: writer, resource } = await createClients(broker.url, { groups: ['writers'] }));
  });

  afterAll(async () => {
    await broker?.close();
  });

  it('narrows read+write+export to exactly read+write for a writer', async () => {
    const res = await requestToken(broker.url, writer, [
      task(['read', 'write', 'export'], { taskId: 'T-narrow' }),
    ]);
    expect(res.status).toBe(200);
    const granted = res.body.authorization_details;
    expect(granted).toHaveLength(1);
    expect([...(granted[0]?.actions ?? [])].sort()).toEqual(['read', 'write']);
    expect(granted[0]?.locations).toEqual([CRM]);
    expect(res.body.scope.split(' ').sort()).toEqual(['read', 'write']);
    const info = await oauthPost(
      broker.url,
      '/oauth/introspect',
      { token: res.body.access_token },
      resource,
    );
    expect(info.body.active).toBe(true);
    expect(info.body.authorization_details).toEqual(granted);
    // The grant remembers what was asked and what was granted.
    const grant = await admin<{
      requested: Array<{ actions: string[] }>;
      granted: Array<{ actions: string[] }>;
    }>(broker.url, 'GET', `/admin/grants/${res.body.grant_id}`);
    expect(grant.status).toBe(200);
    expect(grant.body.requested[0]?.actions).toEqual(['read', 'write', 'export']);
    expect(grant.body.granted).toEqual(granted);
  });

  it('denies an agent with no groups asking only write: 400 access_denied, no grant, a denial record', async () => {
    const nobody = await createClient(broker.url, { name: 'no groups', kind: 'agent', groups: [] });
    const res = await requestToken(broker.url, nobody, [task(['write'], { taskId: 'T-denied' })]);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
    expect(res.body).not.toHaveProperty('access_token');
    expect(res.body).not.toHaveProperty('refresh_token');
    expect(res.headers.get('cache-control')).toBe('no-store');

    const grants = await admin<{ grants: unknown[] }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${nobody.client_id}`,
    );
    expect(grants.status).toBe(200);
    expect(grants.body.grants).toEqual([]);
    const byTask = await admin<{ grants: unknown[] }>(
      broker.url,
      'GET',
      '/admin/grants?task_id=T-denied',
    );
    expect(byTask.body.grants).toEqual([]);

    const decisions = await admin<{
      decisions: Array<{
        kind: string;
        outcome: string;
        client_id?: string;
        task_id?: string;
        grant_id?: string;
      }>;
    }>(broker.url, 'GET', `/admin/decisions?client_id=${nobody.client_id}`);
    expect(decisions.status).toBe(200);
    const denials = decisions.body.decisions.filter((d) => d.kind === 'denial');
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({
      outcome: 'deny',
      client_id: nobody.client_id,
      task_id: 'T-denied',
    });
    expect(denials[0]?.grant_id).toBeUndefined();
  });

  const malformed: Array<[string, string]> = [
    ['not JSON', '[{"type":"agent_task",'],
    ['an object, not an array', JSON.stringify(task(['read']))],
    ['an unknown type', JSON.stringify([{ ...task(['read']), type: 'payment_initiation' }])],
    ['actions of the wrong type', JSON.stringify([{ ...task(['read']), actions: 'read' }])],
    ['missing actions', JSON.stringify([{ type: 'agent_task', task_id: 'T-x', locations: [CRM] }])],
    [
      'missing locations',
      JSON.stringify([{ type: 'agent_task', task_id: 'T-x', actions: ['read'] }]),
    ],
    ['an unknown field', JSON.stringify([{ ...task(['read']), privileges: ['root'] }])],
    ['a relative location', JSON.stringify([task(['read'], { locations: ['/customers'] })])],
    ['an empty array', '[]'],
  ];
  for (const [name, value] of malformed) {
    it(`refuses authorization_details that is ${name} with invalid_authorization_details`, async () => {
      const res = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'client_credentials', authorization_details: value },
        writer,
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_authorization_details');
      expect(res.body).not.toHaveProperty('access_token');
    });
  }

  it('stores no grant for malformed requests', async () => {
    const probe = await createClient(broker.url, {
      name: 'malformed prober',
      kind: 'agent',
      groups: ['writers'],
    });
    for (const [, value] of malformed) {
      const res = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'client_credentials', authorization_details: value },
        probe,
      );
      expect(res.status).toBe(400);
    }
    const grants = await admin<{ grants: unknown[] }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${probe.client_id}`,
    );
    expect(grants.body.grants).toEqual([]);
  });

  // Runs last: it changes the policy set of this file's prefix, and puts the old one back.
  it('after a policy change, a refresh comes back narrower and the wider tokens turn inactive', async () => {
    const before = await admin<{ version: number; policies: string }>(
      broker.url,
      'GET',
      '/admin/policies',
    );
    expect(before.status).toBe(200);
    const tr = await mintToken(broker.url, writer, [
      task(['read', 'write'], { taskId: 'T-policy-change' }),
    ]);
    expect([...tr.authorization_details[0]!.actions].sort()).toEqual(['read', 'write']);
    expect(await isActive(broker.url, resource, tr.access_token)).toBe(true);

    const readOnly =
      '@id("read-only")\npermit (principal, action in [Action::"read", Action::"search", Action::"list"], resource);\n';
    try {
      const put = await admin<{ version: number }>(broker.url, 'PUT', '/admin/policies', {
        policies: readOnly,
      });
      expect(put.status).toBe(200);
      expect(put.body.version).toBeGreaterThan(before.body.version);

      const next = await refresh(broker.url, writer, tr.refresh_token);
      expect(next.status).toBe(200);
      expect(next.body.grant_id).toBe(tr.grant_id);
      expect(next.body.authorization_details).toHaveLength(1);
      expect(next.body.authorization_details[0]?.actions).toEqual(['read']);
      expect(next.body.scope).toBe('read');
      // The old token carries write: narrowing revokes it; the new one is live.
      expect(await isActive(broker.url, resource, tr.access_token)).toBe(false);
      expect(await isActive(broker.url, resource, next.body.access_token)).toBe(true);
      const grant = await admin<{ granted: Array<{ actions: string[] }> }>(
        broker.url,
        'GET',
        `/admin/grants/${tr.grant_id}`,
      );
      expect(grant.body.granted[0]?.actions).toEqual(['read']);

      // And a fresh write request is now refused outright.
      const denied = await requestToken(broker.url, writer, [task(['write'])]);
      expect(denied.status).toBe(400);
      expect(denied.body.error).toBe('access_denied');
    } finally {
      const restore = await admin(broker.url, 'PUT', '/admin/policies', {
        policies: before.body.policies,
      });
      expect(restore.status).toBe(200);
    }
  });
});
