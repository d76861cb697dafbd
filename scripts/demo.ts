// `npm run demo`: the story of one task-bound token, from grant to revocation, told against a real broker.
// Uses MANDATE_URL + MANDATE_ADMIN_TOKEN when given; otherwise starts a private redis-server and a broker in-process.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { requireMandate } from '../src/client/hono.ts';
import { createMandateClient } from '../src/client/index.ts';
import { findRedisServer } from './find-redis-server.ts';
import { pingRedis } from './ping-redis.ts';

interface Broker {
  readonly url: string;
  readonly issuer: string;
  readonly adminToken: string;
  close(): Promise<void>;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server on a free port (never the machine's 6379), data in a temp dir. */
async function startPrivateRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const bin = findRedisServer();
  if (!bin)
    throw new Error(
      'redis-server is not installed (apt-get install redis-server), or set MANDATE_URL and MANDATE_ADMIN_TOKEN',
    );
  const dir = mkdtempSync(join(tmpdir(), 'mandate-demo-'));
  let port = await freePort();
  while (port === 6379) port = await freePort();
  // biome-ignore format: flag/value pairs read best side by side
  const child: ChildProcess = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if ((await pingRedis('127.0.0.1', port, 200)) === '+PONG')
      return { url: `redis://127.0.0.1:${port}`, stop };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stop();
  throw new Error('the private redis-server did not start');
}

async function startOwnBroker(): Promise<Broker> {
  // The broker's JSON logs would drown the story; warnings still show.
  process.env.MANDATE_LOG_LEVEL ??= 'warn';
  const redis = await startPrivateRedis();
  const { startMandate } = await import('../src/main.ts');
  const adminToken = randomBytes(24).toString('base64url');
  // The issuer must be the URL the broker listens on, whatever the caller's shell says.
  const { MANDATE_ISSUER: _issuer, MANDATE_URL: _url, ...env } = process.env;
  try {
    const mandate = await startMandate({
      api: true,
      worker: true,
      handleSignals: false,
      env: {
        ...env,
        REDIS_URL: redis.url,
        MANDATE_HOST: '127.0.0.1',
        MANDATE_PORT: String(await freePort()),
        MANDATE_ADMIN_TOKEN: adminToken,
        MANDATE_REDIS_PREFIX: `demo:${randomBytes(4).toString('hex')}:`,
      },
    });
    const url = mandate.url as string;
    return {
      url,
      issuer: mandate.deps.loaded.issuer,
      adminToken,
      async close() {
        await mandate.close();
        await redis.stop();
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

function connectToBroker(): Broker | undefined {
  const url = process.env.MANDATE_URL?.replace(/\/+$/, '');
  const adminToken = process.env.MANDATE_ADMIN_TOKEN;
  if (!url) return undefined;
  if (!adminToken) throw new Error('MANDATE_URL is set but MANDATE_ADMIN_TOKEN is not');
  return { url, issuer: process.env.MANDATE_ISSUER || url, adminToken, close: async () => {} };
}

async function adminCall<T>(
  broker: Broker,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${broker.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${broker.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

async function register(
  broker: Broker,
  input: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const res = await adminCall<{ client: { client_id: string }; client_secret: string }>(
    broker,
    'POST',
    '/admin/clients',
    input,
  );
  if (res.status !== 201)
    throw new Error(`registering ${String(input.name)} failed: ${res.status}`);
  return { id: res.body.client.client_id, secret: res.body.client_secret };
}

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

async function main(): Promise<number> {
  const external = connectToBroker();
  const broker = external ?? (await startOwnBroker());
  say(`Mandate demo against ${broker.url}${external ? '' : ' (started for this demo)'}`);
  try {
    const ok = await tellStory(broker);
    say(ok ? 'demo: the story went as expected' : 'demo: something did not go as expected');
    return ok ? 0 : 1;
  } finally {
    await broker.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
