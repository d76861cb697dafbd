// Mandate on one Redis, on a Sentinel-watched primary and on a 3-primary Cluster, side by side in interleaved rounds.
// node --import tsx scripts/bench/redis-topologies.ts (BENCH_ONLY, BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS)
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisCluster, startRedisSentinel } from '../../test/support/redis-ha.ts';
import { probeScenario, type RoundResult, runRound, summarizeRounds } from './drive-load.ts';
import { startMandate } from './mandate-target.ts';
import { startPrivateRedis } from './private-redis.ts';
import type { Target } from './targets.ts';

const env = process.env;
const only = (
  env.BENCH_ONLY ?? 'mandate.token,mandate.introspection,mandate.evaluation,mandate.revocation'
).split(',');
const durationSec = Number(env.BENCH_DURATION ?? 3);
const rounds = Number(env.BENCH_ROUNDS ?? 2);
const connections = Number(env.BENCH_CONNECTIONS ?? 10);
const REPO = join(import.meta.dirname, '../..');

const single = await startPrivateRedis();
const sentinel = await startRedisSentinel();
const cluster = await startRedisCluster();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-bench-topologies-'));
const setups = [
  { name: 'single', url: single.url },
  { name: 'sentinel', url: sentinel.url },
  { name: 'cluster', url: cluster.url },
];
const started: Array<{ name: string; target: Target }> = [];
console.log(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
try {
  for (const { name, url } of setups) {
    await mkdir(join(workDir, name));
    const target = await startMandate(
      { redisUrl: url, workDir: join(workDir, name) },
      { name: 'mandate', repo: REPO },
    );
    started.push({ name, target });
  }
  const results = new Map<string, RoundResult[]>();
  for (let round = 0; round < rounds; round++)
    // Odd rounds in reverse, so no set-up always runs right after the same neighbour.
    for (const id of only)
      for (const { name, target } of round % 2 ? [...started].reverse() : started) {
        const scenario = target.scenarios.find((s) => s.id === id);
        if (!scenario) continue;
        if (round === 0) await probeScenario(target.baseUrl, scenario);
        const result = await runRound(scenario, {
          baseUrl: target.baseUrl,
          connections,
          durationSec,
          server: target.server,
          redis: { cpuSeconds: () => 0 },
          expectedRate: 3000,
        });
        const key = `${id} ${name}`;
        results.set(key, [...(results.get(key) ?? []), result]);
      }
  for (const [key, taken] of results) {
    const s = summarizeRounds(taken);
    console.log(
      `${key.padEnd(34)} ${s.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${s.p50Ms} ms  p99 ${s.p99Ms} ms  ` +
        `cpu ${s.cpuUsPerReq.toFixed(0)} µs/req  bad ${s.errors + s.non2xx + s.mismatches}`,
    );
  }
} finally {
  for (const { target } of started) await target.server.stop();
  await single.stop();
  await sentinel.stop();
  await cluster.stop();
  await rm(workDir, { recursive: true, force: true });
}
