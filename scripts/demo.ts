// `npm run demo`: the story of one task-bound token, from grant to revocation, told against a real broker.
// Uses MANDATE_URL + MANDATE_ADMIN_TOKEN when given; otherwise starts a private redis-server and a broker in-process.
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { requireMandate } from '../src/client/hono.ts';
import { createMandateClient } from '../src/client/index.ts';
import { adminCall, type Broker, freePort, register, runDemo, say } from './demo-broker.ts';

/** The sample resource: a tiny Hono app whose /records need a Mandate token permitting `read`. */
async function startSampleResource(
  broker: Broker,
  resource: string,
  port: number,
  creds: { id: string; secret: string },
) {
  const app = new Hono();
  // No permit caching: the demo shows the very next call refused.
  app.use(
    '/records/*',
    requireMandate({
      issuer: broker.issuer,
      clientId: creds.id,
      clientSecret: creds.secret,
      resource,
      action: 'read',
      cacheTtlMs: 0,
    }),
  );
  app.get('/records/customers', (c) =>
    c.json({
      records: [
        { id: 1, name: 'Ada' },
        { id: 2, name: 'Grace' },
        { id: 3, name: 'Linus' },
      ],
    }),
  );
  const server = await new Promise<ReturnType<typeof serve>>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => ok(s));
  });
  return { close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

interface HistoryRecord {
  kind: string;
  outcome: string;
  reasons: string[];
}

/** Runs the story; true when every step went as expected. */
async function tellStory(broker: Broker): Promise<boolean> {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}`;
  const suffix = randomBytes(3).toString('hex');
  const agentCreds = await register(broker, {
    client_id: `demo-agent-${suffix}`,
    name: 'demo agent',
    kind: 'agent',
  });
  const resourceCreds = await register(broker, {
    client_id: `demo-crm-${suffix}`,
    name: 'demo CRM',
    kind: 'resource',
    resources: [resource],
  });
  const sample = await startSampleResource(broker, resource, port, resourceCreds);
  let ok = true;
  const expect = (cond: boolean, line: string) => {
    say(`${cond ? '✓' : '✗'} ${line}`);
    ok &&= cond;
  };
  try {
    const agent = createMandateClient({
      issuer: broker.issuer,
      clientId: agentCreds.id,
      clientSecret: agentCreds.secret,
    });
    const taskId = `T-demo-${suffix}`;
    let grantId = '';
    await agent.withTask(
      { task_id: taskId, purpose: 'weekly CRM summary', actions: ['read'], locations: [resource] },
      async (task) => {
        grantId = task.grantId;
        const granted = task.authorizationDetails.flatMap((d) => d.actions);
        expect(
          granted.join(',') === 'read',
          `agent ${agentCreds.id} got a read-only token for task ${taskId} (grant ${grantId}, actions: ${granted.join(', ')})`,
        );

        const read = await fetch(`${resource}/records/customers`, {
          headers: { authorization: `Bearer ${await task.getToken()}` },
        });
        const records =
          read.status === 200 ? ((await read.json()) as { records: unknown[] }).records.length : 0;
        expect(
          read.status === 200,
          `read through the sample resource: GET /records/customers -> ${read.status} (${records} records)`,
        );

        const signal = await adminCall<{ accepted: number }>(broker, 'POST', '/v1/signals', {
          grant_id: grantId,
          type: 'prompt_changed',
          context: { actions: ['export'] },
        });
        expect(
          signal.status === 202,
          `the task's prompt changes to "export": signal prompt_changed sent -> ${signal.status}`,
        );

        const grant = await adminCall<{ status: string; reason?: string }>(
          broker,
          'GET',
          `/admin/grants/${encodeURIComponent(grantId)}`,
        );
        expect(
          grant.body.status === 'revoked',
          `the grant is ${grant.body.status}${grant.body.reason ? ` (${grant.body.reason})` : ''}`,
        );

        const again = await fetch(`${resource}/records/customers`, {
          headers: { authorization: `Bearer ${await task.getToken().catch(() => '')}` },
        });
        const why = ((await again.json().catch(() => ({}))) as { error?: string }).error ?? '';
        expect(
          again.status === 401 || again.status === 403,
          `the next call is refused: GET /records/customers -> ${again.status} ${why}`,
        );
      },
    );

    const history = await adminCall<{ history: HistoryRecord[] }>(
      broker,
      'GET',
      `/admin/grants/${encodeURIComponent(grantId)}`,
    );
    const records = history.body.history ?? [];
    say(`why (GET /admin/grants/${grantId}):`);
    for (const r of records)
      say(`  ${r.kind.padEnd(13)} ${r.outcome.padEnd(10)} ${r.reasons.join(', ') || '-'}`);
    const reasons = records.flatMap((r) => r.reasons);
    expect(
      reasons.includes('action_class_changed'),
      'the history names the reason: action_class_changed',
    );
  } finally {
    await sample.close();
  }
  return ok;
}

runDemo('Mandate demo', tellStory);
