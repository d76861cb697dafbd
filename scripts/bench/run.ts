// `npm run bench`: starts every server on one private Redis, loads each with autocannon in interleaved rounds, reports.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  MAX_BODY_POOL,
  NotAvailable,
  probeScenario,
  type RoundResult,
  runRound,
  type Scenario,
  summarizeRounds,
} from './drive-load.ts';
import { startMandate } from './mandate-target.ts';
import { type PrivateRedis, startPrivateRedis } from './private-redis.ts';
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
  /** Server names or scenario ids to run (BENCH_ONLY; `all` for every one); null runs the realistic mix. */
  readonly only: Set<string> | null;
  readonly outDir: string;
}

const TARGETS: [string, (ctx: TargetContext) => Promise<Target>][] = [
  ['ceiling', startCeiling],
  ['floor', startFloor],
  ['peer', startPeer],
  ['mandate', (ctx) => startMandate(ctx)],
];

/** Runs of one round, at most, while a consuming scenario's body pool is sized too small (see measure). */
const MAX_ROUND_ATTEMPTS = 3;

// BENCH_BASELINE=<another checkout, npm ci done>: its Mandate runs beside this one, rounds
// interleaved, and every Mandate scenario gets a this/baseline ratio. The way to tell whether a
// change helped on a machine whose speed drifts more than the change moves it.
const baselineRepo = process.env.BENCH_BASELINE;
if (baselineRepo)
  TARGETS.push([
    'baseline',
    (ctx) => startMandate(ctx, { name: 'baseline', repo: resolve(baselineRepo) }),
  ]);

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
    only:
      env.BENCH_ONLY && env.BENCH_ONLY !== 'realistic'
        ? new Set(
            env.BENCH_ONLY.split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          )
        : null,
    outDir: resolve(env.BENCH_OUT_DIR ?? join(import.meta.dirname, '../../bench-results')),
  };
}

// By default the realistic mix (the scenarios marked realistic, references included); BENCH_ONLY
// names servers or scenarios, `all` every scenario.
const selected = (settings: Settings, scenario: Scenario) =>
  !settings.only
    ? scenario.realistic === true
    : settings.only.has('all') ||
      settings.only.has(scenario.id) ||
      settings.only.has(scenario.id.split('.')[0]!);

async function main(): Promise<number> {
  const settings = readSettings();
  const targets = TARGETS.filter(
    ([name]) =>
      !settings.only ||
      settings.only.has('all') ||
      [...settings.only].some((o) => o.split('.')[0] === name),
  );
  console.log(
    `bench: ${settings.smoke ? 'smoke, ' : ''}${settings.rounds} round(s) of ${settings.durationSec}s at ` +
      `${settings.connections.join(' and ')} connections; servers: ${targets.map(([n]) => n).join(', ')}`,
  );
  // Other work on the machine skews every figure: the load average at start goes into the report.
  const loadAtStart = loadavg();
  const redis = await startPrivateRedis();
  const workDir = await mkdtemp(join(tmpdir(), 'mandate-bench-'));
  const sink: Sink = { results: [], unavailable: [], failures: [] };
  const started: Target[] = [];
  try {
    for (const [name, start] of targets) {
      try {
        started.push(await start({ redisUrl: redis.url, workDir }));
      } catch (err) {
        // Mandate is the system under construction: report it missing rather than losing the reference figures.
        if (name !== 'mandate' && name !== 'baseline') throw err;
        const reason = `${name} did not start: ${(err as Error).message}`;
        console.error(`bench: SKIPPING ${name}. ${reason}`);
        sink.unavailable.push({ id: name, reason });
      }
    }
    const live: Running[] = [];
    for (const target of started) {
      for (const scenario of target.scenarios) {
        if (!selected(settings, scenario)) continue;
        const running = await prepare(
          { target, scenario, redis, rate: 0, failed: false },
          settings,
          sink,
        );
        if (running) live.push(running);
      }
    }
    // Rounds are interleaved across every server (round 1 of each scenario, then round 2, ...),
    // so a slow spell on a shared machine lands on all of them alike, not on one server's turn.
    // Odd rounds run in reverse order: what a run leaves behind (the previous server's garbage
    // collection, Redis rewriting its append-only file) then falls on a different neighbour each
    // round, and two builds compared with BENCH_BASELINE each go first as often as second.
    for (const connections of settings.connections) {
      const rounds = new Map<Running, RoundResult[]>(live.map((r) => [r, []]));
      for (let round = 0; round < settings.rounds; round++) {
        for (const running of round % 2 ? [...live].reverse() : live) {
          if (running.failed) continue;
          const result = await measure(running, connections, settings, sink);
          if (result) rounds.get(running)?.push(result);
        }
      }
      for (const running of live) {
        const taken = rounds.get(running) ?? [];
        if (running.failed || taken.length === 0) continue;
        const summary = summarizeRounds(taken);
        sink.results.push({ id: running.scenario.id, connections, ...summary, rounds: taken });
        console.log(
          `bench: ${running.scenario.id} c=${connections}: ${summary.reqPerSec.toFixed(0)} req/s, p50 ${summary.p50Ms} ms, ` +
            `p99 ${summary.p99Ms} ms, cpu ${summary.cpuUsPerReq.toFixed(0)} µs/req (redis ${summary.redisCpuUsPerReq.toFixed(0)})`,
        );
        const bad = summary.errors + summary.non2xx + summary.mismatches;
        if (bad > 0) {
          sink.failures.push(
            `${running.scenario.id} c=${connections}: ${summary.errors} errors, ${summary.non2xx} non-2xx, ${summary.mismatches} bad bodies`,
          );
        }
      }
    }
  } finally {
    for (const target of started) await target.server.stop();
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
      interleaved: true,
    },
    results: sink.results,
    unavailable: sink.unavailable,
    ratios: computeRatios(sink.results),
  };
  console.log(`\n${formatReport(report)}\n`);
  for (const file of await writeReport(report, settings.outDir))
    console.log(`bench: wrote ${file}`);
  if (sink.failures.length > 0) {
    console.error(`bench: FAILED\n  ${sink.failures.join('\n  ')}\nserver logs kept in ${workDir}`);
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

/** A scenario that passed its probe and warm-up, with the rate its next round sizes its body pool from. */
interface Running {
  readonly target: Target;
  readonly redis: PrivateRedis;
  readonly scenario: Scenario;
  rate: number;
  failed: boolean;
}

/** Probe, then a warm-up whose figures are discarded (JIT, first connections, pool sizes). */
async function prepare(
  running: Running,
  settings: Settings,
  sink: Sink,
): Promise<Running | undefined> {
  const { target, scenario } = running;
  try {
    await probeScenario(target.baseUrl, scenario);
  } catch (err) {
    if (!(err instanceof NotAvailable)) return fail(running, err, sink);
    sink.unavailable.push({ id: scenario.id, reason: err.message });
    console.log(`bench: ${scenario.id} not available (${err.message})`);
    return undefined;
  }
  const warm = await measure(
    running,
    settings.connections[0]!,
    { ...settings, durationSec: settings.warmupSec },
    sink,
  );
  return warm ? running : undefined;
}

/** One timed round; a failure (often the server dying) is recorded and ends the scenario, not the run. */
async function measure(
  running: Running,
  connections: number,
  settings: Pick<Settings, 'durationSec'>,
  sink: Sink,
): Promise<RoundResult | undefined> {
  const { target, scenario } = running;
  if (!target.server.alive()) {
    running.failed = true;
    sink.unavailable.push({ id: scenario.id, reason: `${target.name} exited earlier in the run` });
    return undefined;
  }
  try {
    for (let attempt = 1; ; attempt++) {
      const result = await runRound(scenario, {
        baseUrl: target.baseUrl,
        server: target.server,
        redis: running.redis,
        connections,
        durationSec: settings.durationSec,
        ...(running.rate > 0 ? { expectedRate: running.rate } : {}),
      });
      running.rate = result.reqPerSec;
      // A consuming scenario's round is sized from the last rate seen (a warm-up's, or another
      // connection count's). One that ended well short of the duration measured mostly its
      // ramp-up: it is run again, sized from the rate it just measured.
      const seconds = result.reqPerSec > 0 ? result.requests / result.reqPerSec : 0;
      const undersized =
        (scenario.bodies || scenario.headerPool) &&
        seconds < 0.8 * settings.durationSec &&
        result.requests < MAX_BODY_POOL;
      if (!undersized || attempt === MAX_ROUND_ATTEMPTS) return result;
    }
  } catch (err) {
    return fail(running, err, sink);
  }
}

async function fail(running: Running, err: unknown, sink: Sink): Promise<undefined> {
  const { target, scenario } = running;
  running.failed = true;
  // The child's exit event can trail the refused connection that revealed it: give it a moment.
  await new Promise((r) => setTimeout(r, 300));
  const crashed = target.server.alive()
    ? ''
    : `\n--- ${target.name} log tail ---\n${target.server.logTail()}`;
  const reason = `${scenario.id}: ${(err as Error).message}${crashed}`;
  console.error(`bench: ${reason}`);
  sink.failures.push(reason.split('\n')[0]!);
  sink.unavailable.push({ id: scenario.id, reason });
  return undefined;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`bench: ${(err as Error).stack ?? String(err)}`);
  return 1;
});
