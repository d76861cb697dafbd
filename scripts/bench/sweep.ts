// Sweep throughput: N live grants re-decided by one sweep, timed (bytes per grant: grant-memory.ts).
// Usage: node --import tsx scripts/bench/sweep.ts [grants...]   (default 10000 100000)
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { sweep } from '../../src/worker/reevaluation-worker.ts';
import { startPrivateRedis } from './private-redis.ts';
import { seedGrants } from './seed-grant.ts';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const counts = sizes.length ? sizes : [10_000, 100_000];

const redisServer = await startPrivateRedis();
const config = join(tmpdir(), `mandate-sweep-${process.pid}.yaml`);
writeFileSync(config, 'worker:\n  sweep_every_ms: 3600000\n');
const results: Array<Record<string, number>> = [];
try {
  for (const n of counts) {
    const prefix = `bench-sweep-${n}:`;
    const deps = createDeps(
      loadConfig({
        REDIS_URL: redisServer.url,
        MANDATE_REDIS_PREFIX: prefix,
        MANDATE_CONFIG: config,
      }),
      {
        log: createLogger('warn'),
      },
    );
    await deps.start();
    const broker = deps.workerBroker;
    const now = Math.floor(Date.now() / 1000);
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    for (const id of agents) {
      await broker.clients.put({
        client_id: id,
        name: id,
        kind: 'agent',
        groups: i(id) % 2 ? ['writers'] : [],
        attributes: {},
        resources: [],
        token_endpoint_auth_method: 'client_secret_basic',
        disabled: false,
        created_at: now,
        updated_at: now,
      });
    }
    const t0 = performance.now();
    await seedGrants(broker, n, agents, now);
    const createMs = performance.now() - t0;
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
