// Redis bytes per live grant: INFO memory used_memory delta over N grants stored the way a mint stores them
// (grant state, its index entries and the id of its mint record; the decision log's stream, capped by
// audit.max_records, left out).
// Usage: node --import tsx scripts/bench/grant-memory.ts [grants]   (default 100000)
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startPrivateRedis } from './private-redis.ts';
import { seedGrants } from './seed-grant.ts';

const n = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(n) || n <= 0) throw new Error('usage: grant-memory.ts [grants > 0]');

async function usedMemory(redis: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

const redisServer = await startPrivateRedis();
const config = join(tmpdir(), `mandate-grant-memory-${process.pid}.yaml`);
// No sweep while measuring: it would only add its own keys to the delta.
writeFileSync(config, 'worker:\n  sweep_every_ms: 3600000\n');
try {
  const deps = createDeps(
    loadConfig({
      REDIS_URL: redisServer.url,
      MANDATE_REDIS_PREFIX: 'bench-mem:',
      MANDATE_CONFIG: config,
    }),
    {
      log: createLogger('warn'),
    },
  );
  await deps.start();
  const broker = deps.broker;
  const now = Math.floor(Date.now() / 1000);
  // Twenty agents, one task per grant: the shape of a fleet where every task mints once.
  const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
  const before = await usedMemory(deps.redis);
  const t0 = performance.now();
  await seedGrants(broker, n, agents, now);
  const createMs = performance.now() - t0;
  const delta = (await usedMemory(deps.redis)) - before;
  // The mint records' stream is the audit log, kept to audit.max_records whatever the number of
  // live grants: its bytes are left out. Each grant's own index of its records stays in.
  const { keys } = deps;
  const logBytes =
    Number(await deps.redis.call('MEMORY', 'USAGE', keys.decisions, 'SAMPLES', '0')) +
    Number(await deps.redis.call('MEMORY', 'USAGE', keys.auditHeads, 'SAMPLES', '0'));
  console.log(
    JSON.stringify({
      grants: n,
      used_memory_delta: delta,
      decision_log_bytes: logBytes,
      bytes_per_grant: Math.round((delta - logBytes) / n),
      create_ms: Math.round(createMs),
    }),
  );
  await deps.close();
} finally {
  await redisServer.stop();
}
