// `npm run bench`: starts each server in turn on one private Redis, loads it with autocannon and reports.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  NotAvailable,
  probeScenario,
  runRound,
  type Scenario,
  summarizeRounds,
} from './drive-load.ts';
import { startMandate } from './mandate-target.ts';
import { startPrivateRedis } from './private-redis.ts';
import {
  type BenchReport,
  computeRatios,
  formatReport,
  type ScenarioResult,
  writeReport,
} from './report.ts';
import { startCeiling, startFloor, startPeer, type Target, type TargetContext } from './targets.ts';

interface Settings {
  readonly smoke: boolean;
  readonly durationSec: number;
  readonly rounds: number;
  readonly warmupSec: number;
  readonly connections: number[];
  /** Server names or scenario ids to run (BENCH_ONLY); null runs everything. */
  readonly only: Set<string> | null;
  readonly outDir: string;
}

const TARGETS: [string, (ctx: TargetContext) => Promise<Target>][] = [
  ['ceiling', startCeiling],
  ['floor', startFloor],
  ['peer', startPeer],
  ['mandate', startMandate],
];

function readSettings(): Settings {
  const env = process.env;
  const smoke = env.BENCH_SMOKE === '1' || process.argv.includes('--smoke');
  const positive = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!(value > 0)) throw new Error(`${name} must be a positive number, got ${env[name]}`);
    return value;
  };
  return {
    smoke,
    durationSec: positive('BENCH_DURATION', smoke ? 2 : 10),
    rounds: Math.round(positive('BENCH_ROUNDS', smoke ? 1 : 3)),
    warmupSec: smoke ? 1 : 3,
    connections: smoke ? [10] : [10, 50],
    only: env.BENCH_ONLY
      ? new Set(
          env.BENCH_ONLY.split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        )
      : null,
    outDir: resolve(env.BENCH_OUT_DIR ?? join(import.meta.dirname, '../../bench-results')),
  };
}

const selected = (settings: Settings, id: string) =>
  !settings.only || settings.only.has(id) || settings.only.has(id.split('.')[0]!);

async function main(): Promise<number> {
  const settings = readSettings();
  const targets = TARGETS.filter(
    ([name]) => !settings.only || [...settings.only].some((o) => o.split('.')[0] === name),
  );
  console.log(
    `bench: ${settings.smoke ? 'smoke, ' : ''}${settings.rounds} round(s) of ${settings.durationSec}s at ` +
      `${settings.connections.join(' and ')} connections; servers: ${targets.map(([n]) => n).join(', ')}`,
  );
  // Other work on the machine skews every figure: the load average at start goes into the report.
  const loadAtStart = loadavg();
  const redis = await startPrivateRedis();
  const workDir = await mkdtemp(join(tmpdir(), 'mandate-bench-'));
  const results: ScenarioResult[] = [];
  const unavailable: { id: string; reason: string }[] = [];
  const failures: string[] = [];
  try {
    for (const [name, start] of targets) {
      let target: Target;
      try {
        target = await start({ redisUrl: redis.url, workDir });
      } catch (err) {
        // Mandate is the system under construction: report it missing rather than losing the reference figures.
        if (name !== 'mandate') throw err;
        const reason = `Mandate did not start: ${(err as Error).message}`;
        console.error(`bench: SKIPPING Mandate. ${reason}`);
        unavailable.push({ id: 'mandate', reason });
        continue;
      }
      try {
        for (const scenario of target.scenarios) {
          if (!selected(settings, scenario.id)) continue;
          if (!target.server.alive()) {
            unavailable.push({ id: scenario.id, reason: `${name} exited earlier in the run` });
            continue;
          }
          try {
            await benchScenario(target, scenario, settings, { results, unavailable, failures });
          } catch (err) {
            // A scenario failing mid-load (often the server dying) must not lose the figures already taken.
            // The child's exit event can trail the refused connection that revealed it: give it a moment.
            await new Promise((r) => setTimeout(r, 300));
            const crashed = target.server.alive()
              ? ''
              : `\n--- ${name} log tail ---\n${target.server.logTail()}`;
            const reason = `${scenario.id}: ${(err as Error).message}${crashed}`;
            console.error(`bench: ${reason}`);
            failures.push(reason.split('\n')[0]!);
            unavailable.push({ id: scenario.id, reason });
          }
        }
      } finally {
        await target.server.stop();
      }
    }
  } finally {
    await redis.stop();
  }
  const report: BenchReport = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadAverageAtStart: loadAtStart,
      smoke: settings.smoke,
      durationSec: settings.durationSec,
      rounds: settings.rounds,
      warmupSec: settings.warmupSec,
      connections: settings.connections,
      only: settings.only ? [...settings.only] : null,
    },
    results,
    unavailable,
    ratios: computeRatios(results),
  };
  console.log(`\n${formatReport(report)}\n`);
  for (const file of await writeReport(report, settings.outDir))
    console.log(`bench: wrote ${file}`);
  if (failures.length > 0) {
    console.error(`bench: FAILED\n  ${failures.join('\n  ')}\nserver logs kept in ${workDir}`);
    return 1;
  }
  await rm(workDir, { recursive: true, force: true });
  return 0;
}

interface Sink {
  results: ScenarioResult[];
  unavailable: { id: string; reason: string }[];
  failures: string[];
}

/** Probe, warm up, then the timed rounds at each connection count. */
async function benchScenario(
  target: Target,
  scenario: Scenario,
  settings: Settings,
  sink: Sink,
): Promise<void> {
  try {
    await probeScenario(target.baseUrl, scenario);
  } catch (err) {
    if (!(err instanceof NotAvailable)) throw err;
    sink.unavailable.push({ id: scenario.id, reason: err.message });
    console.log(`bench: ${scenario.id} not available (${err.message})`);
    return;
  }
  const base = { baseUrl: target.baseUrl, server: target.server };
  // The warm-up's figures are discarded: it pays for JIT compilation and first connections, and sizes the pools.
  const warm = await runRound(scenario, {
    ...base,
    connections: settings.connections[0]!,
    durationSec: settings.warmupSec,
  });
  let rate = warm.reqPerSec;
  for (const connections of settings.connections) {
    const rounds = [];
    for (let i = 0; i < settings.rounds; i++) {
      const round = await runRound(scenario, {
        ...base,
        connections,
        durationSec: settings.durationSec,
        expectedRate: rate,
      });
      rate = round.reqPerSec;
      rounds.push(round);
    }
    const summary = summarizeRounds(rounds);
    sink.results.push({ id: scenario.id, connections, ...summary, rounds });
    console.log(
      `bench: ${scenario.id} c=${connections}: ${summary.reqPerSec.toFixed(0)} req/s, p50 ${summary.p50Ms} ms, ` +
        `p99 ${summary.p99Ms} ms, cpu ${summary.cpuUsPerReq.toFixed(0)} µs/req`,
    );
    const bad = summary.errors + summary.non2xx + summary.mismatches;
    if (bad > 0) {
      sink.failures.push(
        `${scenario.id} c=${connections}: ${summary.errors} errors, ${summary.non2xx} non-2xx, ${summary.mismatches} bad bodies`,
      );
    }
  }
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`bench: ${(err as Error).stack ?? String(err)}`);
  return 1;
});
