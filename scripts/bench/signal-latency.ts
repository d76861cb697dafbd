// Signal -> revoked latency: a resource reports a signal that ends a grant; how long until its token is inactive.
//
// Run (no npm script needed):
//   node_modules/.bin/node --import tsx scripts/bench/signal-latency.ts [signals]
// signals defaults to 1000 (or BENCH_SIGNALS). One broker process (`mandate serve`) on a private Redis;
// this script is the only client, sequential, so each figure is one request's latency, not a
// throughput. Per signal: mint a token (task S-<i>, `read`), check it is active, then time
//   POST /v1/signals {grant_id, type: prompt_changed, context: {actions: [export]}}  (asks outside the
//   grant, so the inline re-evaluation revokes it before the 202)
// and the very next POST /oauth/introspect of the token, which must answer 200 {active:false}.
// Prints a summary and writes bench-results/signal-latency-<timestamp>.json (and -latest.json).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Broker,
  latencySummary,
  machineMeta,
  newAdminToken,
  post,
  readTask,
  registerClients,
  startBroker,
  writeBrokerConfig,
  writeFigure,
} from './broker-processes.ts';
import { startPrivateRedis } from './private-redis.ts';

const SIGNALS = Number(process.argv[2] ?? process.env.BENCH_SIGNALS ?? 1000);
/** Untimed signals first: JIT, connections and Cedar's first decisions are not what this measures. */
const WARMUP = Math.min(50, Math.ceil(SIGNALS / 10));

if (!(Number.isInteger(SIGNALS) && SIGNALS > 0))
  throw new Error(`signals must be a positive integer, got ${SIGNALS}`);

const metaAtStart = machineMeta();
const redis = await startPrivateRedis();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-signal-'));
let broker: Broker | undefined;
let exitCode = 1;
try {
  const adminToken = newAdminToken();
  const configFile = await writeBrokerConfig(workDir);
  broker = await startBroker({
    name: 'broker',
    command: 'serve',
    redisUrl: redis.url,
    workDir,
    configFile,
    adminToken,
    prefix: 'bench-signal:',
  });
  const base = broker.baseUrl;
  const clients = await registerClients(base, adminToken);

  const signalMs: number[] = [];
  const inactiveMs: number[] = [];
  const problems: string[] = [];
  let stillActive = 0;
  const problem = (what: string) => {
    if (problems.length < 20) problems.push(what);
  };
  for (let i = 0; i < WARMUP + SIGNALS; i++) {
    const minted = await post(
      `${base}/oauth/token`,
      clients.agent,
      { grant_type: 'client_credentials', authorization_details: readTask(`S-${i}`) },
      'form',
    );
    if (minted.status !== 200)
      throw new Error(`mint -> HTTP ${minted.status} ${JSON.stringify(minted.body)}`);
    const token = String(minted.body.access_token);
    const introspect = () => post(`${base}/oauth/introspect`, clients.resource, { token }, 'form');
    const before = await introspect();
    if (before.status !== 200 || before.body.active !== true)
      throw new Error(
        `fresh token not active: HTTP ${before.status} ${JSON.stringify(before.body)}`,
      );

    const t0 = performance.now();
    const signal = await post(
      `${base}/v1/signals`,
      clients.resource,
      { grant_id: minted.body.grant_id, type: 'prompt_changed', context: { actions: ['export'] } },
      'json',
    );
    const t1 = performance.now();
    const after = await introspect();
    const t2 = performance.now();
    if (i < WARMUP) continue;
    const revoked = (signal.body.reevaluated as { revoke?: number } | undefined)?.revoke;
    if (signal.status !== 202 || revoked !== 1)
      problem(`signal ${i}: HTTP ${signal.status} ${JSON.stringify(signal.body)}`);
    // Only a 200 {active:false} counts as inactive: a 429 or 5xx is an error, never a success.
    if (after.status !== 200)
      problem(`introspection ${i}: HTTP ${after.status} ${JSON.stringify(after.body)}`);
    else if (after.body.active !== false) stillActive++;
    else {
      signalMs.push(t1 - t0);
      inactiveMs.push(t2 - t0);
    }
  }

  const result = {
    figure: 'signal -> revoked and inactive, one broker process',
    command: `node_modules/.bin/node --import tsx scripts/bench/signal-latency.ts ${SIGNALS}`,
    meta: { ...metaAtStart, loadAverageAtEnd: machineMeta().loadAverage },
    settings: { signals: SIGNALS, warmup: WARMUP, broker: 'mandate serve (API only)' },
    /** POST /v1/signals answered (the grant is revoked in Redis by then). */
    signal_response_ms: latencySummary(signalMs),
    /** From sending the signal until the next introspection answered {active:false}. */
    signal_to_inactive_ms: latencySummary(inactiveMs),
    still_active_after_signal: stillActive,
    errors: problems.length,
    problems,
  };
  const files = await writeFigure('signal-latency', result);
  const s = result.signal_to_inactive_ms;
  const r = result.signal_response_ms;
  console.log(
    `signal-latency: ${SIGNALS} signals (after ${WARMUP} warm-up): signal -> inactive p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms ` +
      `(signal answered p50 ${r.p50} ms, p99 ${r.p99} ms); still active after the signal: ${stillActive}; errors: ${problems.length}`,
  );
  for (const p of problems.slice(0, 5)) console.log(`  ${p}`);
  console.log(`signal-latency: wrote ${files.join(', ')}`);
  exitCode = stillActive === 0 && problems.length === 0 ? 0 : 1;
} catch (err) {
  console.error(`signal-latency: ${(err as Error).stack ?? String(err)}`);
  if (broker) console.error(`--- broker log tail ---\n${broker.server.logTail()}`);
} finally {
  await broker?.server.stop();
  await redis.stop();
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
