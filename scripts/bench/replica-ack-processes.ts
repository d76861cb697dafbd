// Two figures side by side in one run, rounds interleaved: (a) revocation and token endpoint with
// redis.min_replicas_ack 0 vs 1 on a primary + replica; (b) introspection with 1 vs 2 `serve` processes.
//
// Run (no npm script needed):
//   node_modules/.bin/node --import tsx scripts/bench/replica-ack-processes.ts
// BENCH_ROUNDS (3), BENCH_DURATION (5 s per round), BENCH_CONNECTIONS (16), BENCH_ONLY=acks|processes.
// (a) One primary and one replica (both AOF everysec, as production), two `serve` brokers on the
// primary under their own prefixes, one with MANDATE_REDIS_MIN_REPLICAS_ACK=0 and one with 1. Each
// round runs, for each broker in turn (the order swapped every round): BENCH_SEQUENTIAL (300) RFC 7009
// revocations then as many token requests one at a time (timed to the microsecond), then
// revocations and token requests with BENCH_CONNECTIONS for BENCH_DURATION each (autocannon). Half
// of the revoked tokens are access tokens, half refresh tokens (ending the grant); all are minted
// beforehand, unmeasured. (b) One broker with MANDATE_PROCESSES=1 and one with 2 on
// the primary (min_replicas_ack 0; introspection writes nothing), introspecting a fleet of 200 live
// tokens with BENCH_CONNECTIONS; CPU of the broker (primary + processes), Redis and the load
// generator (this process: autocannon) per round. Writes bench-results/replica-ack-processes-*.json.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import {
  type Answer,
  type Broker,
  latencySummary,
  machineMeta,
  newAdminToken,
  post,
  RESOURCE,
  readTask,
  registerClients,
  round2,
  startBroker,
  writeBrokerConfig,
  writeConfigFile,
  writeFigure,
} from './broker-processes.ts';
import { startPrivateRedis } from './private-redis.ts';
import type { ServerProcess } from './server-process.ts';

const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const DURATION_SEC = Number(env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 16);
const ONLY = env.BENCH_ONLY;
const FLEET = 200;
const WARMUP_SEC = 2;
/** Requests of each kind sent one at a time per broker and round. */
const SEQUENTIAL = Number(env.BENCH_SEQUENTIAL ?? 300);
const MINT_CONCURRENCY = 16;
const TICKS = 100;

/** utime + stime of `pid` and every process below it (a cluster primary's forked processes). */
function treeCpuSeconds(pid: number): number {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(f[1]));
      cpu.set(Number(entry), (Number(f[11]) + Number(f[12])) / TICKS);
    } catch {
      // exited meanwhile
    }
  }
  const inTree = (p: number): boolean => {
    for (let at: number | undefined = p, hops = 0; at && hops < 10; at = parent.get(at), hops++)
      if (at === pid) return true;
    return false;
  };
  let total = 0;
  for (const [p, s] of cpu) if (inTree(p)) total += s;
  return total;
}

/** Busy and total jiffies of the whole machine (every core), from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** The broker's process tree as one server for runRound's CPU figures. */
const asTree = (b: Broker): ServerProcess => ({
  ...b.server,
  cpuSeconds: () => treeCpuSeconds(b.server.pid),
});

interface Deployment {
  readonly name: string;
  readonly broker: Broker;
  readonly agent: string;
  readonly resource: string;
}

/** Mints `count` tokens (MINT_CONCURRENCY at a time); returns [access, refresh] pairs. */
async function mintMany(d: Deployment, count: number): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const mint = () =>
        post(
          `${d.broker.baseUrl}/oauth/token`,
          d.agent,
          { grant_type: 'client_credentials', authorization_details: readTask(`T-${i}`) },
          'form',
        );
      let minted = await mint();
      // Preparation only: a 503 on a starved machine (a Redis command past its timeout) is tried again.
      for (let tries = 0; minted.status === 503 && tries < 5; tries++) minted = await mint();
      if (minted.status !== 200)
        throw new Error(`${d.name}: mint -> ${minted.status} ${JSON.stringify(minted.body)}`);
      out.push([String(minted.body.access_token), String(minted.body.refresh_token)]);
    }
  };
  await Promise.all(Array.from({ length: MINT_CONCURRENCY }, worker));
  return out;
}

const form = (auth: string) => ({
  authorization: auth,
  'content-type': 'application/x-www-form-urlencoded',
});

/** One load run's request: a fixed body, bodies cycled through, or bodies used up one per request. */
interface Load {
  readonly path: string;
  readonly auth: string;
  readonly body?: string;
  readonly cycle?: readonly string[];
  readonly consume?: string[];
  /** A substring every good answer holds. */
  readonly okBody?: string;
}

/** RFC 7009 bodies, minted beforehand: even ones revoke an access token, odd ones a refresh token (the grant). */
async function revocationLoad(d: Deployment, count: number): Promise<Load> {
  const consume = (await mintMany(d, count)).map(([access, refresh], i) =>
    new URLSearchParams(
      i % 2 === 0
        ? { token: access, token_type_hint: 'access_token' }
        : { token: refresh, token_type_hint: 'refresh_token' },
    ).toString(),
  );
  return { path: '/oauth/revoke', auth: d.agent, consume };
}

const tokenLoad = (d: Deployment): Load => ({
  path: '/oauth/token',
  auth: d.agent,
  body: new URLSearchParams({
    grant_type: 'client_credentials',
    authorization_details: readTask('bench-token'),
  }).toString(),
  okBody: '"access_token"',
});

async function introspectionLoad(d: Deployment): Promise<Load> {
  const cycle = (await mintMany(d, FLEET)).map(([access]) =>
    new URLSearchParams({ token: access }).toString(),
  );
  return { path: '/oauth/introspect', auth: d.resource, cycle, okBody: '"active":true' };
}

interface Measured {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Connection errors, timeouts, non-2xx answers, 2xx answers without okBody, and requests left without a body. */
  readonly bad: number;
  readonly brokerCpuUsPerReq: number;
  readonly redisCpuUsPerReq: number;
  /** CPU use over the run, in % of one core. */
  readonly brokerCpuPct: number;
  readonly redisCpuPct: number;
  readonly loadGenCpuPct: number;
  /** Everything else the machine ran meanwhile (other tenants), in % of one core. */
  readonly otherCpuPct: number;
}

const results = new Map<string, Measured[]>();

/** Runs `load` against `d` for `durationSec` with autocannon (in this process) and records it under `label` unless warming up. */
async function measure(
  d: Deployment,
  load: Load,
  connections: number,
  label: string,
  durationSec = DURATION_SEC,
  warmup = false,
): Promise<void> {
  let bad = 0;
  let next = 0;
  const request: autocannon.Request = {
    method: 'POST',
    path: load.path,
    headers: form(load.auth),
    ...(load.body ? { body: load.body } : {}),
  };
  if (load.cycle || load.consume) {
    request.setupRequest = (req) => {
      const body = load.consume ? load.consume.pop() : load.cycle?.[next++ % load.cycle.length];
      if (body === undefined) bad++;
      req.body = body ?? '';
      return req;
    };
  }
  if (load.okBody) {
    const ok = load.okBody;
    request.onResponse = (status, body) => {
      if (status >= 200 && status < 300 && !body.includes(ok)) bad++;
    };
  }
  const broker = asTree(d.broker);
  const broker0 = broker.cpuSeconds();
  const redis0 = redisCpu();
  const gen0 = process.cpuUsage();
  const machine0 = machineJiffies();
  const t0 = performance.now();
  const r = await autocannon({
    url: d.broker.baseUrl,
    connections,
    duration: durationSec,
    requests: [request],
  });
  const wallSec = (performance.now() - t0) / 1000;
  const gen = process.cpuUsage(gen0);
  const machine1 = machineJiffies();
  const machineBusySec =
    ((machine1.busy - machine0.busy) / (machine1.total - machine0.total || 1)) *
    cpus().length *
    wallSec;
  const brokerSec = broker.cpuSeconds() - broker0;
  const redisSec = redisCpu() - redis0;
  if (warmup) return;
  const requests = r.requests.total;
  const m: Measured = {
    reqPerSec: requests / wallSec,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests,
    bad: bad + r.errors + r.timeouts + r.non2xx,
    brokerCpuUsPerReq: requests ? (brokerSec * 1e6) / requests : 0,
    redisCpuUsPerReq: requests ? (redisSec * 1e6) / requests : 0,
    brokerCpuPct: (100 * brokerSec) / wallSec,
    redisCpuPct: (100 * redisSec) / wallSec,
    loadGenCpuPct: (100 * (gen.user + gen.system)) / 1e6 / wallSec,
    otherCpuPct: Math.max(
      0,
      (100 * (machineBusySec - brokerSec - redisSec - (gen.user + gen.system) / 1e6)) / wallSec,
    ),
  };
  results.set(label, [...(results.get(label) ?? []), m]);
  console.log(
    `  ${label.padEnd(28)} ${Math.round(m.reqPerSec)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  bad ${m.bad}  ` +
      `CPU broker ${Math.round(m.brokerCpuPct)}% redis ${Math.round(m.redisCpuPct)}% load gen ${Math.round(m.loadGenCpuPct)}% others ${Math.round(m.otherCpuPct)}%`,
  );
}

const samples = new Map<string, number[]>();

/**
 * One request at a time, timed here to the microsecond (autocannon's histogram counts whole ms):
 * `count` RFC 7009 revocations of tokens minted beforehand (half access, half refresh), then
 * `count` token requests.
 */
async function sequential(d: Deployment, count: number): Promise<void> {
  const tokens = await mintMany(d, count);
  const time = async (label: string, call: () => Promise<Answer>) => {
    const t0 = performance.now();
    const answer = await call();
    const ms = performance.now() - t0;
    if (answer.status !== 200)
      throw new Error(`${label}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    samples.set(label, [...(samples.get(label) ?? []), ms]);
  };
  for (const [i, [access, refresh]] of tokens.entries())
    await time(`${d.name}.revocation.c1`, () =>
      post(
        `${d.broker.baseUrl}/oauth/revoke`,
        d.agent,
        i % 2 === 0
          ? { token: access, token_type_hint: 'access_token' }
          : { token: refresh, token_type_hint: 'refresh_token' },
        'form',
      ),
    );
  for (let i = 0; i < count; i++)
    await time(`${d.name}.token.c1`, () =>
      post(
        `${d.broker.baseUrl}/oauth/token`,
        d.agent,
        { grant_type: 'client_credentials', authorization_details: readTask(`S-${i}`) },
        'form',
      ),
    );
  for (const label of [`${d.name}.revocation.c1`, `${d.name}.token.c1`]) {
    const s = latencySummary((samples.get(label) ?? []).slice(-count));
    console.log(`  ${label.padEnd(28)} one at a time: p50 ${s.p50} ms  p99 ${s.p99} ms`);
  }
}

/**
 * What WAIT itself costs, without a broker: `count` INCRs one at a time, then `count` INCR + WAIT 1
 * pipelines (what one acknowledged write adds), on one connection to the primary.
 */
let waitMisses = 0;

async function redisWait(url: string, count: number): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    for (const [label, withWait] of [
      ['redis.incr', false],
      ['redis.incr+wait', true],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        if (withWait) {
          const replies = await redis
            .pipeline()
            .incr('bench-marker')
            .call('WAIT', '1', '500')
            .exec();
          if (replies?.[1]?.[1] !== 1) waitMisses++;
        } else await redis.incr('bench-marker');
        samples.set(label, [...(samples.get(label) ?? []), performance.now() - t0]);
      }
      const s = latencySummary((samples.get(label) ?? []).slice(-count));
      console.log(`  ${label.padEnd(28)} one at a time: p50 ${s.p50} ms  p99 ${s.p99} ms`);
    }
  } finally {
    redis.disconnect();
  }
}

function summary(label: string) {
  const rounds = results.get(label) ?? [];
  const med = (pick: (r: Measured) => number) => round2(median(rounds.map(pick)));
  return {
    rounds: rounds.length,
    req_per_sec: med((r) => r.reqPerSec),
    p50_ms: med((r) => r.p50Ms),
    p99_ms: med((r) => r.p99Ms),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    bad_answers: rounds.reduce((n, r) => n + r.bad, 0),
    broker_cpu_us_per_req: med((r) => r.brokerCpuUsPerReq),
    redis_cpu_us_per_req: med((r) => r.redisCpuUsPerReq),
    broker_cpu_pct_of_one_core: med((r) => r.brokerCpuPct),
    redis_cpu_pct_of_one_core: med((r) => r.redisCpuPct),
    load_generator_cpu_pct_of_one_core: med((r) => r.loadGenCpuPct),
    other_tenants_cpu_pct_of_one_core: med((r) => r.otherCpuPct),
  };
}

/** The median of the values; 0 for none. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const meta = machineMeta();
const primary = await startPrivateRedis();
const primaryPort = new URL(primary.url).port;
const replica = await startPrivateRedis(undefined, ['--replicaof', '127.0.0.1', primaryPort]);
const redisCpu = () => primary.cpuSeconds() + replica.cpuSeconds();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-ha-bench-'));
const brokers: Broker[] = [];
let exitCode = 1;
try {
  const configFile = await writeBrokerConfig(workDir);
  // The same with one acknowledgement connection instead of 4: what the pool buys under load.
  const poolOfOne = await writeConfigFile(
    workDir,
    {
      ...JSON.parse(readFileSync(configFile, 'utf8')),
      redis: { replica_ack_connections: 1 },
    },
    'pool-of-one.yaml',
  );
  const deploy = async (
    name: string,
    extra: { processes?: number; ack: number; config?: string },
  ) => {
    const adminToken = newAdminToken();
    const broker = await startBroker({
      name,
      command: 'serve',
      redisUrl: primary.url,
      workDir,
      configFile: extra.config ?? configFile,
      adminToken,
      prefix: `bench-${name}:`,
      issuer: `http://${name}.bench.invalid`,
      processes: extra.processes ?? 1,
      env: { MANDATE_REDIS_MIN_REPLICAS_ACK: String(extra.ack) },
    });
    brokers.push(broker);
    // Every process of the broker listens before any load (readyz answered by the first one only).
    const want = extra.processes ?? 1;
    for (let i = 0; i < 600; i++) {
      if ((broker.server.logTail(200).match(/mandate listening on/g)?.length ?? 0) >= want) break;
      await sleep(100);
    }
    const c = await registerClients(broker.baseUrl, adminToken);
    return { name, broker, agent: c.agent, resource: c.resource } satisfies Deployment;
  };

  const runAcks = ONLY === undefined || ONLY === 'acks';
  const runProcesses = ONLY === undefined || ONLY === 'processes';
  const plain = runAcks ? await deploy('ack0', { ack: 0 }) : undefined;
  const acked = runAcks ? await deploy('ack1', { ack: 1 }) : undefined;
  const ackedPool1 = runAcks ? await deploy('ack1pool1', { ack: 1, config: poolOfOne }) : undefined;
  const one = runProcesses ? await deploy('proc1', { processes: 1, ack: 0 }) : undefined;
  const two = runProcesses ? await deploy('proc2', { processes: 2, ack: 0 }) : undefined;

  /** Revocation bodies for one run: comfortably more than it can use. */
  const revocations = (d: Deployment, perSec: number, sec = DURATION_SEC) =>
    revocationLoad(d, Math.ceil(perSec * sec * 1.3) + CONNECTIONS * 4);
  // Warm-up (not recorded): JIT, caches and connections of every process.
  for (const d of [plain, acked, ackedPool1].filter((x) => x !== undefined)) {
    await measure(
      d,
      await revocations(d, 1500, WARMUP_SEC),
      CONNECTIONS,
      'warmup',
      WARMUP_SEC,
      true,
    );
    await measure(d, tokenLoad(d), CONNECTIONS, 'warmup', WARMUP_SEC, true);
  }
  for (const d of [one, two].filter((x) => x !== undefined))
    await measure(d, await introspectionLoad(d), CONNECTIONS * 2, 'warmup', WARMUP_SEC, true);

  for (let round = 0; round < ROUNDS; round++) {
    console.log(`round ${round + 1}/${ROUNDS}`);
    if (plain && acked) {
      await redisWait(primary.url, 2000);
      const order = round % 2 === 0 ? [plain, acked] : [acked, plain];
      for (const d of order) {
        await sequential(d, SEQUENTIAL);
        await measure(d, await revocations(d, 1500), CONNECTIONS, `${d.name}.revocation`);
        await measure(d, tokenLoad(d), CONNECTIONS, `${d.name}.token`);
      }
      if (ackedPool1) {
        const d = ackedPool1;
        await measure(d, await revocations(d, 1500), CONNECTIONS, `${d.name}.revocation`);
        await measure(d, tokenLoad(d), CONNECTIONS, `${d.name}.token`);
      }
    }
    if (one && two) {
      const order = round % 2 === 0 ? [one, two] : [two, one];
      for (const d of order)
        await measure(d, await introspectionLoad(d), CONNECTIONS * 2, `${d.name}.introspection`);
    }
  }

  const labels = [...results.keys()].sort();
  const figures: Record<string, Record<string, number | null>> = Object.fromEntries(
    labels.map((l) => [l, summary(l)]),
  );
  for (const [label, ms] of samples) figures[label] = latencySummary(ms);
  const ratio = (a: string, b: string, pick: 'p50' | 'p50_ms' | 'req_per_sec') => {
    const x = figures[a]?.[pick];
    const y = figures[b]?.[pick];
    return x && y ? round2(x / y) : null;
  };
  const result = {
    figure: 'acknowledged revocations (min_replicas_ack 0 vs 1) and serve --processes 1 vs 2',
    command: 'node_modules/.bin/node --import tsx scripts/bench/replica-ack-processes.ts',
    meta: { ...meta, loadAverageAtEnd: machineMeta().loadAverage },
    settings: {
      rounds: ROUNDS,
      duration_sec: DURATION_SEC,
      connections: CONNECTIONS,
      introspection_connections: CONNECTIONS * 2,
      introspection_fleet: FLEET,
      redis: 'primary + 1 replica, AOF everysec, Redis on the same host',
      resource: RESOURCE,
    },
    figures,
    /** WAITs of the Redis-only figure that returned before the replica acknowledged (timeout). */
    redis_wait_timeouts: waitMisses,
    ratios: {
      redis_p50_incr_wait_over_incr: ratio('redis.incr+wait', 'redis.incr', 'p50'),
      revocation_c1_p50_ack1_over_ack0: ratio('ack1.revocation.c1', 'ack0.revocation.c1', 'p50'),
      token_c1_p50_ack1_over_ack0: ratio('ack1.token.c1', 'ack0.token.c1', 'p50'),
      revocation_p50_ack1_over_ack0: ratio('ack1.revocation', 'ack0.revocation', 'p50_ms'),
      revocation_throughput_ack1_over_ack0: ratio(
        'ack1.revocation',
        'ack0.revocation',
        'req_per_sec',
      ),
      token_p50_ack1_over_ack0: ratio('ack1.token', 'ack0.token', 'p50_ms'),
      token_throughput_ack1_over_ack0: ratio('ack1.token', 'ack0.token', 'req_per_sec'),
      revocation_throughput_pool1_over_pool4: ratio(
        'ack1pool1.revocation',
        'ack1.revocation',
        'req_per_sec',
      ),
      introspection_throughput_2_over_1: ratio(
        'proc2.introspection',
        'proc1.introspection',
        'req_per_sec',
      ),
    },
  };
  const files = await writeFigure('replica-ack-processes', result);
  console.log(JSON.stringify({ figures, ratios: result.ratios }, null, 2));
  console.log(`wrote ${files.join(', ')}`);
  exitCode = 0;
} catch (err) {
  console.error(`replica-ack-processes: ${(err as Error).stack ?? String(err)}`);
  for (const b of brokers)
    console.error(`--- ${b.server.name} log tail ---\n${b.server.logTail()}`);
} finally {
  for (const b of brokers) await b.server.stop();
  await replica.stop();
  await primary.stop();
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
