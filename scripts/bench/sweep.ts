// Sweep throughput and Redis bytes per live grant: N live grants re-decided by one sweep, timed.
// Usage: node --import tsx scripts/bench/sweep.ts [grants...]   (default 10000 100000)
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps } from '../../src/deps.ts';
import type { Grant } from '../../src/domain/grant.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { sweep } from '../../src/worker/reevaluation-worker.ts';
import { startPrivateRedis } from './private-redis.ts';
import { seedGrant } from './seed-grant.ts';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const counts = sizes.length ? sizes : [10_000, 100_000];

async function usedMemory(redis: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

const redisServer = await startPrivateRedis();
const config = join(tmpdir(), `mandate-sweep-${process.pid}.yaml`);
writeFileSync(config, 'worker:\n  sweep_every_ms: 3600000\n');
const results: Array<Record<string, number>> = [];
try {
  for (const n of counts) {
    const prefix = `bench-sweep-${n}:`;
    const deps = createDeps(loadConfig({ REDIS_URL: redisServer.url, MANDATE_REDIS_PREFIX: prefix, MANDATE_CONFIG: config }), {
      log: createLogger('warn'),
    });
    await deps.start();
    const broker = deps.workerBroker;
    const now = Math.floor(Date.now() / 1000);
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    for (const id of agents) {
      await broker.clients.put({
        client_id: id, name: id, kind: 'agent', groups: i(id) % 2 ? ['writers'] : [], attributes: {}, resources: [],
        token_endpoint_auth_method: 'client_secret_basic', disabled: false, created_at: now, updated_at: now,
      });
    }
    const before = await usedMemory(deps.redis);
    const t0 = performance.now();
    for (let start = 0; start < n; start += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, n - start) }, (_, k) => {
          const idx = start + k;
          const client_id = agents[idx % agents.length] as string;
          const entry = { type: 'agent_task' as const, task_id: `T-${idx}`, purpose: 'weekly CRM summary', actions: ['read', 'write'], locations: ['https://crm.example.com'] };
          const grant: Grant = {
            id: `g_${randomBytes(16).toString('base64url')}`, client_id, task_id: entry.task_id, status: 'active',
            requested: [entry], granted: [entry],
            context: { ip: '10.0.0.7', risk: 0, signals: [], approved: false, delegated: false, sender_constrained: false, groups: [] },
            policy_version: 1, created_at: now, expires_at: now + 3600,
          };
          return seedGrant(broker, grant, { jti: randomBytes(16).toString('base64url'), exp: now + 300 }, `sha256:${randomBytes(32).toString('base64url')}`);
        }),
      );
    }
    const createMs = performance.now() - t0;
    const bytesPerGrant = ((await usedMemory(deps.redis)) - before) / n;
    // First sweep: half the grants lose `write` (their agents are not writers) and are narrowed.
    const s0 = performance.now();
    const summary = await sweep(broker, 500, 'bench');
    const sweepMs = performance.now() - s0;
    // Second sweep: nothing changed since, the steady state of a healthy fleet.
    const s1 = performance.now();
    await sweep(broker, 500, 'bench');
    const steadyMs = performance.now() - s1;
    results.push({
      grants: n,
      sweep_ms: Math.round(sweepMs),
      grants_per_s: Math.round(n / (sweepMs / 1000)),
      steady_sweep_ms: Math.round(steadyMs),
      steady_grants_per_s: Math.round(n / (steadyMs / 1000)),
      bytes_per_grant: Math.round(bytesPerGrant),
      create_ms: Math.round(createMs),
      ...summary,
    });
    console.log(JSON.stringify(results.at(-1)));
    await deps.close();
  }
} finally {
  await redisServer.stop();
}

function i(id: string): number {
  return Number(id.split('-')[1]);
}
