// Sweep time with one and with two worker processes: N live grants, one sweep fanned out as batch jobs.
// Usage: node --import tsx scripts/bench/sweep-workers.ts [grants=100000]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startPrivateRedis } from './private-redis.ts';
import { seedGrants } from './seed-grant.ts';

const n = Number(process.argv[2] ?? 100_000);
const redis = await startPrivateRedis();
const config = join(tmpdir(), `mandate-sweep-workers-${process.pid}.yaml`);
writeFileSync(config, 'worker:\n  sweep_every_ms: 3600000\n  batch_size: 500\n');
const results: Array<Record<string, number>> = [];
try {
  for (const workers of [1, 2]) {
    const prefix = `bench-sw${workers}:`;
    const env = {
      REDIS_URL: redis.url,
      MANDATE_REDIS_PREFIX: prefix,
      MANDATE_CONFIG: config,
      MANDATE_LOG_LEVEL: 'warn',
    };
    const deps = createDeps(loadConfig(env), { log: createLogger('warn') });
    await deps.start();
    const broker = deps.workerBroker;
    const now = Math.floor(Date.now() / 1000);
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    for (const [i, id] of agents.entries()) {
      await broker.clients.put({
        client_id: id,
        name: id,
        kind: 'agent',
        groups: i % 2 ? ['writers'] : [],
        attributes: {},
        resources: [],
        token_endpoint_auth_method: 'client_secret_basic',
        disabled: false,
        created_at: now,
        updated_at: now,
      });
    }
    await seedGrants(broker, n, agents, now);
    const procs = Array.from({ length: workers }, () =>
      spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
    await new Promise((r) => setTimeout(r, 4000)); // workers booted (tsx compile, Cedar load)
    const queue = (broker.reevaluator as unknown as { queue: import('bullmq').Queue }).queue;
    const t0 = performance.now();
    await broker.reevaluator.enqueueAll('bench');
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      // 'delayed' holds the scheduler's next sweep, an hour away.
      const c = await queue.getJobCounts('waiting', 'active', 'prioritized', 'waiting-children');
      if (
        Object.values(c).every((v) => v === 0) &&
        ((await queue.getJobCounts('completed')).completed ?? 0) > 0
      )
        break;
    }
    const ms = performance.now() - t0;
    results.push({
      grants: n,
      workers,
      sweep_ms: Math.round(ms),
      grants_per_s: Math.round(n / (ms / 1000)),
    });
    console.log(JSON.stringify(results.at(-1)));
    for (const p of procs) p.kill('SIGTERM');
    await deps.close();
  }
} finally {
  await redis.stop();
}
