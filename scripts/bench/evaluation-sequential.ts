// Sequential AuthZEN evaluations of tokens the broker has not seen (one grant each), beside
// introspections of such tokens and a bare GET: where one evaluation's time goes at concurrency 1.
//
// Run: node --import tsx scripts/bench/evaluation-sequential.ts
// BENCH_CALLS (default 1000) requests of each kind, interleaved (GET, introspection, evaluation);
// BENCH_CPU_PROF=<dir> writes the broker's CPU profile there (sampled every 50 µs).
// The broker (`mandate serve`) is its own process on a private Redis; the client is this process.
import { subscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type Broker,
  latencySummary,
  newAdminToken,
  post,
  RESOURCE,
  readTask,
  registerClients,
  startBroker,
  writeBrokerConfig,
} from './broker-processes.ts';
import { startPrivateRedis } from './private-redis.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const PROFILE_DIR = process.env.BENCH_CPU_PROF;
if (!(Number.isInteger(CALLS) && CALLS > 0))
  throw new Error('BENCH_CALLS must be a positive integer');

const redis = await startPrivateRedis();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-eval-seq-'));
let broker: Broker | undefined;
let exitCode = 1;
try {
  const configFile = await writeBrokerConfig(workDir);
  const adminToken = newAdminToken();
  broker = await startBroker({
    name: 'broker',
    command: 'serve',
    redisUrl: redis.url,
    workDir,
    configFile,
    adminToken,
    prefix: 'evalseq:',
    ...(PROFILE_DIR
      ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, '--cpu-prof-interval=50'] }
      : {}),
  });
  const base = broker.baseUrl;
  const clients = await registerClients(base, adminToken);
  const tokens: string[] = [];
  for (let i = 0; i < 2 * CALLS + 200; i++) {
    const minted = await post(
      `${base}/oauth/token`,
      clients.agent,
      { grant_type: 'client_credentials', authorization_details: readTask(`T-${i}`) },
      'form',
    );
    const token = minted.body.access_token;
    if (minted.status !== 200 || typeof token !== 'string')
      throw new Error(`minting token ${i}: ${minted.status}`);
    tokens.push(token);
  }
  const timed = async (samples: number[], run: () => Promise<void>) => {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  };
  const get = async () => {
    const res = await fetch(`${base}/.well-known/oauth-authorization-server`);
    await res.text();
  };
  const introspect = async (token: string) => {
    const res = await fetch(`${base}/oauth/introspect`, {
      method: 'POST',
      headers: {
        authorization: clients.resource,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    });
    const body = (await res.json()) as { active?: boolean };
    if (body.active !== true) throw new Error('introspection answered inactive');
  };
  const evaluate = async (token: string) => {
    const res = await fetch(`${base}/access/v1/evaluation`, {
      method: 'POST',
      headers: { authorization: clients.resource, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { type: 'agent', id: clients.agentId, properties: { token } },
        action: { name: 'read' },
        resource: { type: 'resource', id: RESOURCE },
      }),
    });
    const body = (await res.json()) as { decision?: boolean };
    if (body.decision !== true) throw new Error(`evaluation answered ${JSON.stringify(body)}`);
  };
  const samples = {
    get: [] as number[],
    introspection: [] as number[],
    evaluation: [] as number[],
  };
  let t = 0;
  for (let i = 0; i < 100; i++) {
    await get();
    await introspect(tokens[t++] as string);
    await evaluate(tokens[t++] as string);
  }
  const { Redis } = await import('ioredis');
  const info = new Redis(redis.url);
  await info.config('SET', 'slowlog-max-len', '100000');
  await info.config('SET', 'slowlog-log-slower-than', '0');
  await info.slowlog('RESET');
  // Connections the client opens while timed: 1 when keep-alive holds.
  let connections = 0;
  subscribe('undici:client:connected', () => {
    connections += 1;
  });
  for (let i = 0; i < CALLS; i++) {
    await timed(samples.get, get);
    await timed(samples.introspection, () => introspect(tokens[t++] as string));
    await timed(samples.evaluation, () => evaluate(tokens[t++] as string));
  }
  console.log(
    `sequential, ${CALLS} of each, every token new to the broker (one grant each), ${connections} connection(s) opened`,
  );
  for (const [name, s] of Object.entries(samples)) {
    const { p50, p99 } = latencySummary(s);
    console.log(`  ${name.padEnd(14)} p50 ${p50} ms  p99 ${p99} ms`);
  }
  // Redis' own time per script call during the timed requests (SLOWLOG of every command), by
  // script: the part of each round trip spent inside Redis.
  const byCommand = new Map<string, number[]>();
  for (const entry of (await info.slowlog('GET', 100_000)) as [
    number,
    number,
    number,
    string[],
  ][]) {
    const [, , micros, args] = entry;
    const [command = '', ...rest] = args;
    if (command.toLowerCase() !== 'evalsha') continue;
    // Scripts told apart by their key count and first key (a grant's id elided).
    const name = `script, ${rest[1]} keys, first ${(rest[2] ?? '').replace(/\{g:[^}]*\}/, '{g:…}')}`;
    byCommand.set(name, [...(byCommand.get(name) ?? []), micros]);
  }
  await info.config('SET', 'slowlog-log-slower-than', '10000');
  info.disconnect();
  for (const [name, micros] of [...byCommand].sort((a, b) => b[1].length - a[1].length).slice(0, 8))
    console.log(
      `  redis ${name.padEnd(34)} x${micros.length}  p50 ${latencySummary(micros.map((u) => u / 1000)).p50 ?? 0} ms`,
    );
  exitCode = 0;
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await broker?.server.stop();
  await redis.stop();
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
