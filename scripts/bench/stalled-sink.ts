// A stalled audit sink must not slow POST /oauth/token: the same broker (API + worker in one process) with no sink, a healthy OTLP sink and a stalled one, side by side.
//
// Run: npm run bench:stalled-sink   (BENCH_DURATION seconds per round, default 10; BENCH_ROUNDS, default 3;
// BENCH_CONNECTIONS, default 10,50)
// Three `mandate start` processes (API and worker in one process: the sink's writer shares the
// token endpoint's event loop, the case where a stall could reach it) on one private Redis, each
// under its own prefix: `none` has no audit sink; `healthy` exports every record to a local OTLP
// receiver answering 200 at once; `stalled` exports to a receiver that accepts the connection and
// never answers (the exporter times out, the sink retries with backoff and falls behind). Rounds
// are interleaved (none, healthy, stalled, none, ...) so machine load hits them alike. After the
// rounds (and once the healthy sink has caught up), the stalled broker's /readyz must say
// `degraded` (behind by more than the sink's queue, or failing for a while) and the healthy one's `ready`.
// Prints a table and writes bench-results/stalled-sink-<timestamp>.json (and -latest.json).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Broker,
  machineMeta,
  newAdminToken,
  registerClients,
  startBroker,
  writeBrokerConfig,
  writeConfigFile,
  writeFigure,
} from './broker-processes.ts';
import { median, type RoundResult, runRound, type Scenario } from './drive-load.ts';
import { freePort } from './free-port.ts';
import { startPrivateRedis } from './private-redis.ts';
import { AUTHORIZATION_DETAILS } from './targets.ts';

const DURATION_SEC = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number);
const WARMUP_SEC = 3;
const KINDS = ['none', 'healthy', 'stalled'] as const;
type Kind = (typeof KINDS)[number];

/** An OTLP/HTTP logs receiver: `healthy` answers 200 `{}` to each export, `stalled` never answers. */
async function startReceiver(
  kind: 'healthy' | 'stalled',
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    if (kind === 'healthy')
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${port}/v1/logs`, server };
}

async function readiness(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/readyz`);
  return ((await res.json()) as { status?: string }).status ?? `HTTP ${res.status}`;
}

async function main() {
  const workDir = await mkdtemp(join(tmpdir(), 'mandate-bench-sink-'));
  const redis = await startPrivateRedis();
  const receivers = {
    healthy: await startReceiver('healthy'),
    stalled: await startReceiver('stalled'),
  };
  const brokers = new Map<Kind, Broker>();
  try {
    // Sweeps far apart: re-evaluating every grant minted so far would cost the token endpoint's process CPU unevenly across rounds.
    const base = JSON.parse(
      await readFile(await writeBrokerConfig(workDir, { sweepEveryMs: 3_600_000 }), 'utf8'),
    );
    const sinkOf = (kind: Kind) =>
      kind === 'none' ? [] : [{ type: 'otlp', url: receivers[kind].url, timeout_ms: 2_000 }];
    for (const kind of KINDS) {
      const adminToken = newAdminToken();
      const configFile = await writeConfigFile(
        workDir,
        { ...base, audit: { sinks: sinkOf(kind) } },
        `${kind}.yaml`,
      );
      const broker = await startBroker({
        name: kind,
        command: 'start',
        redisUrl: redis.url,
        workDir,
        configFile,
        adminToken,
        prefix: `bench:sink:${kind}:`,
      });
      brokers.set(kind, broker);
      const clients = await registerClients(broker.baseUrl, adminToken);
      scenarios.set(kind, {
        id: `${kind}.token`,
        request: {
          method: 'POST',
          path: '/oauth/token',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: clients.agent,
          },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            authorization_details: AUTHORIZATION_DETAILS,
          }).toString(),
        },
        okBody: '"access_token"',
      });
    }

    const results: Record<string, RoundResult[]> = {};
    for (const connections of CONNECTIONS) {
      for (const kind of KINDS) {
        const broker = brokers.get(kind) as Broker;
        const scenario = scenarios.get(kind) as Scenario;
        await runRound(scenario, { ...roundOf(broker, connections), durationSec: WARMUP_SEC });
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const kind of KINDS) {
          const broker = brokers.get(kind) as Broker;
          const result = await runRound(scenarios.get(kind) as Scenario, {
            ...roundOf(broker, connections),
            durationSec: DURATION_SEC,
          });
          const key = `${kind}@${connections}`;
          results[key] = [...(results[key] ?? []), result];
          console.log(
            `stalled-sink: ${kind.padEnd(7)} c=${connections} round ${round + 1}: ${Math.round(result.reqPerSec)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, cpu ${Math.round(result.cpuUsPerReq)} µs/req, non-2xx ${result.non2xx}`,
          );
        }
      }
    }

    // The healthy sink catches up once the load stops; the stalled one stays behind and keeps
    // failing (each export times out after 2 s): /readyz degrades once it has failed for 10 s.
    const urlOf = (kind: Kind) => (brokers.get(kind) as Broker).baseUrl;
    for (let waited = 0; waited < 60_000; waited += 500) {
      const [healthy, stalled] = await Promise.all([
        readiness(urlOf('healthy')),
        readiness(urlOf('stalled')),
      ]);
      if (healthy === 'ready' && stalled === 'degraded') break;
      await sleep(500);
    }
    const ready = Object.fromEntries(
      await Promise.all(KINDS.map(async (k) => [k, await readiness(urlOf(k))] as const)),
    );
    const summary = CONNECTIONS.map((connections) => {
      const of = (kind: Kind) => results[`${kind}@${connections}`] ?? [];
      const rate = (kind: Kind) => median(of(kind).map((r) => r.reqPerSec));
      const ratios = (kind: Kind) =>
        of(kind).map((r, i) => r.reqPerSec / (of('none')[i]?.reqPerSec ?? Number.NaN));
      return {
        connections,
        reqPerSec: Object.fromEntries(KINDS.map((k) => [k, rate(k)])),
        p99Ms: Object.fromEntries(KINDS.map((k) => [k, median(of(k).map((r) => r.p99Ms))])),
        stalledOverNone: ratios('stalled'),
        healthyOverNone: ratios('healthy'),
      };
    });
    console.log('\nstalled-sink: token endpoint, median req/s (ratio to no sink, per round)');
    for (const s of summary)
      console.log(
        `  c=${s.connections}: none ${Math.round(s.reqPerSec.none ?? 0)}, healthy ${Math.round(s.reqPerSec.healthy ?? 0)} (${s.healthyOverNone.map((r) => r.toFixed(2)).join(' ')}), stalled ${Math.round(s.reqPerSec.stalled ?? 0)} (${s.stalledOverNone.map((r) => r.toFixed(2)).join(' ')}); p99 ${s.p99Ms.none}/${s.p99Ms.healthy}/${s.p99Ms.stalled} ms`,
      );
    console.log(`  /readyz after the rounds: ${JSON.stringify(ready)}`);
    const files = await writeFigure('stalled-sink', {
      meta: { ...machineMeta(), durationSec: DURATION_SEC, rounds: ROUNDS },
      summary,
      ready,
      results,
    });
    console.log(`stalled-sink: wrote ${files.join(', ')}`);
    if (ready.stalled !== 'degraded' || ready.healthy !== 'ready')
      throw new Error(
        `readiness: expected stalled degraded and healthy ready, got ${JSON.stringify(ready)}`,
      );
  } finally {
    for (const b of brokers.values()) await b.server.stop();
    for (const r of Object.values(receivers)) {
      r.server.closeAllConnections();
      r.server.close();
    }
    await redis.stop();
    await rm(workDir, { recursive: true, force: true });
  }

  function roundOf(broker: Broker, connections: number) {
    return { baseUrl: broker.baseUrl, connections, server: broker.server, redis };
  }
}

const scenarios = new Map<Kind, Scenario>();

await main();
