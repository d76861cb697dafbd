// Side by side on a private Redis: our rate limit (http/rate-limit.ts over store/redis-rate-limiter.ts)
// and rate-limiter-flexible doing the same work, in interleaved rounds.
// Run: npm run bench:rate-limiter (settings: RL_BENCH_ROUNDS, RL_BENCH_MS, RL_BENCH_CONCURRENCY, RL_BENCH_KEYS)
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import { sourceKey } from '../../src/domain/client-address.ts';
import { readBasicCredentials } from '../../src/http/basic-credentials.ts';
import type { HttpDeps } from '../../src/http/http-deps.ts';
import { clientIp } from '../../src/http/http-deps.ts';
import {
  createRateLimit,
  noteAuthenticated,
  type RateLimitOptions,
} from '../../src/http/rate-limit.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { createRequestClient } from '../../src/store/redis-connection.ts';
import { createRedisRateLimiter, RATE_WINDOW_SEC } from '../../src/store/redis-rate-limiter.ts';
import { findRedisServer } from '../find-redis-server.ts';
import { startPrivateRedis } from './private-redis.ts';

const env = process.env;
const ROUNDS = Number(env.RL_BENCH_ROUNDS ?? 7);
const MEASURE_MS = Number(env.RL_BENCH_MS ?? 1500);
const CONCURRENCY = Number(env.RL_BENCH_CONCURRENCY ?? 32);
/** Distinct client ids and source addresses the requests cycle through. */
const DISTINCT = Number(env.RL_BENCH_KEYS ?? 10_000);
/** Sources blocked before the `blocked` scenario (each request comes from one of them). */
const BLOCKED_SOURCES = 100;
/** The per-source limit of the `blocked` scenario's limiters (the others never block). */
const BLOCK_AFTER = 5;
const NEVER = 1_000_000_000;

type Outcome = 'ok' | 'fail';
/**
 * count: one failure counted in Redis (store level, no HTTP). success: a correct credential while
 * nothing is blocked. failure: a wrong one (401), counted per source, per (client id, source) and
 * per client id. blocked: a request from a blocked source (429). success-under-attack: a correct
 * credential from an unblocked source while BLOCKED_SOURCES sources are blocked.
 */
type Scenario = 'count' | 'success' | 'failure' | 'blocked' | 'success-under-attack';
const SCENARIOS: Scenario[] = ['count', 'success', 'failure', 'blocked', 'success-under-attack'];

/** One implementation: a counter for the store-level scenario, and a guard built with given limits. */
interface Implementation {
  readonly name: string;
  /** Counts one failure for `key` in Redis (what a failed authentication costs per counter). */
  count(key: string): Promise<unknown>;
  /** A Hono app: the guard in front of a handler that authenticates per `x-bench-outcome`. */
  app(limits: { source: number; pair: number }): Hono;
}

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

const fakeDeps = {
  broker: { clock: { nowMs: () => Date.now(), nowSec: () => Math.floor(Date.now() / 1000) } },
  metrics: { rateLimited: () => undefined, authFailure: () => undefined },
  log: { warn: () => undefined, debug: () => undefined, error: () => undefined },
  trustProxy: false,
  remoteAddress: (c: Context) => c.req.header('x-bench-ip'),
} as unknown as HttpDeps;

/** The handler both guards protect: authenticates (or not) as the request says. */
function handlerApp(guard: MiddlewareHandler, onAuthenticated?: (c: Context) => void): Hono {
  const app = new Hono();
  app.use('*', guard);
  app.post('/x', (c) => {
    if (c.req.header('x-bench-outcome') === 'fail') return c.json({ error: 'invalid_client' }, 401);
    onAuthenticated?.(c);
    return c.json({ ok: true });
  });
  return app;
}

function presented(c: Context) {
  const creds = readBasicCredentials(c.req.header('authorization') ?? '');
  return typeof creds === 'string' ? undefined : creds;
}

/** Ours, as src/http/app.ts wires it: createRateLimit over createRedisRateLimiter. */
function ours(redis: Redis, prefix: string): Implementation {
  const counter = createRedisRateLimiter(redis, createKeyNames(prefix));
  return {
    name: 'ours',
    count: (key) => counter.hit('auth:source', key, Date.now()),
    app: ({ source, pair }) => {
      const opts: RateLimitOptions = {
        counter,
        authFailuresPerMinute: pair,
        authFailuresPerSourcePerMinute: source,
        knownCredentialTtlMs: 10 * 60_000,
        invalidTokensPerMinute: NEVER,
      };
      const limiter = createRateLimit(fakeDeps, opts);
      return handlerApp(
        limiter.guard({ tooMany: () => new Response('{}', { status: 429 }) }),
        (c) => {
          const creds = presented(c);
          if (creds) noteAuthenticated(c, { kind: 'client', ...creds });
        },
      );
    },
  };
}

/**
 * rate-limiter-flexible the way its login-protection recipe does it: three RateLimiterRedis (per
 * source, per client id and source, per client id), `consume` on each failure. `inMemory`: the
 * limiters block locally once a key reaches its points (inMemoryBlockOnConsumed) and the check
 * asks only that; otherwise the check is the recipe's `get` of both keys (Redis on every request).
 */
function flexible(redis: Redis, prefix: string, inMemory: boolean): Implementation {
  const limiter = (name: string, points: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}${name}`,
      points,
      duration: RATE_WINDOW_SEC,
      ...(inMemory && points < NEVER ? { inMemoryBlockOnConsumed: points } : {}),
    });
  const counter = limiter('count', NEVER);
  return {
    name: inMemory ? 'rlf-memory' : 'rlf-recipe',
    count: (key) => counter.consume(key),
    app: ({ source: sourceLimit, pair: pairLimit }) => {
      const bySource = limiter('source', sourceLimit);
      const byPair = limiter('pair', pairLimit);
      const byClient = limiter('client', NEVER);
      // Not in rate-limiter-flexible's types (its public API checks a block only inside consume):
      // the method its consume asks first, so a check costs no Redis call.
      const blockedLocally = (l: RateLimiterRedis, key: string) =>
        (l as unknown as InMemoryBlocks).getInMemoryBlockMsBeforeExpire(l.getKey(key)) > 0;
      const over = (res: RateLimiterRes | null, points: number) =>
        res !== null && res.consumedPoints >= points;
      const guard: MiddlewareHandler = async function rlfRateLimit(c, next) {
        const creds = presented(c);
        const source = sourceKey(clientIp(c, fakeDeps) ?? 'unknown');
        const pairKey = creds ? `${source} ${creds.clientId}` : undefined;
        if (inMemory) {
          if (
            blockedLocally(bySource, source) ||
            (pairKey !== undefined && blockedLocally(byPair, pairKey))
          )
            return c.json({}, 429);
        } else {
          const [s, p] = await Promise.all([
            bySource.get(source),
            pairKey === undefined ? null : byPair.get(pairKey),
          ]);
          if (over(s, sourceLimit) || over(p, pairLimit)) return c.json({}, 429);
        }
        await next();
        if (c.res.status !== 401 || !creds) return;
        // A consume over the points rejects with its result: the failure was counted all the same.
        const counted = (p: Promise<unknown>) => p.catch(() => undefined);
        await Promise.all([
          counted(bySource.consume(source)),
          counted(byPair.consume(pairKey as string)),
          counted(byClient.consume(creds.clientId)),
        ]);
      };
      return handlerApp(guard);
    },
  };
}

interface InMemoryBlocks {
  getInMemoryBlockMsBeforeExpire(rlKey: string): number;
}

interface Measured {
  readonly opsPerSec: number;
  readonly wrong: number;
  readonly redisCallsPerOp: number;
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

/** Runs `op` from CONCURRENCY loops for MEASURE_MS; counts the ops whose result was not the expected one. */
async function measure(
  control: Redis,
  op: (i: number) => Promise<boolean>,
  startAt: number,
): Promise<Measured> {
  let next = startAt;
  let done = 0;
  let wrong = 0;
  const commandsBefore = await commandsProcessed(control);
  const t0 = performance.now();
  const end = t0 + MEASURE_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        if (!(await op(next++))) wrong++;
        done++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  // Minus the INFO call itself.
  const commands = (await commandsProcessed(control)) - commandsBefore - 1;
  return { opsPerSec: done / seconds, wrong, redisCallsPerOp: commands / done };
}

function request(app: Hono, i: number, outcome: Outcome, source: string) {
  const id = `agent-${i % DISTINCT}`;
  return app.request('http://bench.test/x', {
    method: 'POST',
    headers: {
      authorization: basic(id, outcome === 'ok' ? 'right' : 'wrong'),
      'x-bench-outcome': outcome,
      'x-bench-ip': source,
    },
  });
}

/** Sends failures from every blocked source until each is refused (429). */
async function blockSources(app: Hono): Promise<void> {
  for (let s = 0; s < BLOCKED_SOURCES; s++) {
    for (let attempt = 0; attempt < BLOCK_AFTER * 4; attempt++) {
      const res = await request(app, s, 'fail', ip(DISTINCT + s));
      if (res.status === 429) break;
    }
  }
  // Ours counts in the background once its wait is over: let the last counts land.
  await sleep(20);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main() {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server not found');
  const server = await startPrivateRedis(binary);
  const client = (name: string) => {
    const r = createRequestClient(
      { topology: { kind: 'single', url: server.url }, commandTimeoutMs: 2000 },
      name,
    ) as Redis;
    return r;
  };
  const redises = [client('bench-ours'), client('bench-rlf'), client('bench-rlf-mem')];
  const control = client('bench-control');
  try {
    await Promise.all([...redises, control].map((r) => r.connect()));
    const impls = [
      ours(redises[0] as Redis, 'b:ours:'),
      flexible(redises[1] as Redis, 'b:rlf:', false),
      flexible(redises[2] as Redis, 'b:rlfm:', true),
    ];
    const open = { source: NEVER, pair: NEVER };
    const apps = new Map(impls.map((impl) => [impl.name, impl.app(open)]));
    const blockingApps = new Map(
      impls.map((impl) => [impl.name, impl.app({ source: BLOCK_AFTER, pair: NEVER })]),
    );
    const results = new Map<string, Measured[]>();
    let cursor = 0;

    /** What each scenario sends: which app (blocking sources first), the outcome, the source, the status expected. */
    const plan = {
      success: { blocking: false, outcome: 'ok', source: (i) => ip(i % DISTINCT), status: 200 },
      failure: { blocking: false, outcome: 'fail', source: (i) => ip(i % DISTINCT), status: 401 },
      blocked: {
        blocking: true,
        outcome: 'fail',
        source: (i) => ip(DISTINCT + (i % BLOCKED_SOURCES)),
        status: 429,
      },
      'success-under-attack': {
        blocking: true,
        outcome: 'ok',
        source: (i) => ip(i % DISTINCT),
        status: 200,
      },
    } satisfies Record<
      Exclude<Scenario, 'count'>,
      { blocking: boolean; outcome: Outcome; source: (i: number) => string; status: number }
    >;

    const run = async (scenario: Scenario, impl: Implementation): Promise<Measured> => {
      const start = cursor;
      cursor += 1_000_000;
      if (scenario === 'count') {
        const count = async (i: number) => {
          await impl.count(`k${i % DISTINCT}`);
          return true;
        };
        return measure(control, count, start);
      }
      const { blocking, outcome, source, status } = plan[scenario];
      const app = (blocking ? blockingApps : apps).get(impl.name) as Hono;
      if (blocking) await blockSources(app);
      const send = async (i: number) =>
        (await request(app, i, outcome as Outcome, source(i))).status === status;
      return measure(control, send, start);
    };

    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    console.log(
      `rate limiter bench ${new Date().toISOString()}: node ${process.version}, ${cpus().length} cpus, load ${load}`,
    );
    console.log(
      `${ROUNDS} rounds x ${MEASURE_MS} ms, ${CONCURRENCY} in flight, ${DISTINCT} distinct keys, redis ${server.url}`,
    );
    // One warm-up pass of everything (JIT, scripts loaded), not counted.
    for (const scenario of SCENARIOS)
      for (const impl of impls)
        if (!(scenario === 'count' && impl.name === 'rlf-memory')) await run(scenario, impl);

    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved: every scenario's implementations back to back, their order rotating each round.
      const order = impls.map((_, k) => impls[(k + round) % impls.length] as Implementation);
      for (const scenario of SCENARIOS)
        for (const impl of order) {
          // The counter of both rlf variants is the same RateLimiterRedis.consume.
          if (scenario === 'count' && impl.name === 'rlf-memory') continue;
          const m = await run(scenario, impl);
          const key = `${scenario}/${impl.name}`;
          results.set(key, [...(results.get(key) ?? []), m]);
        }
      process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
    }

    const lines = [
      '| scenario | implementation | ops/s (median) | min-max | Redis commands/op | wrong answers |',
      '|---|---|---:|---:|---:|---:|',
    ];
    const ratios: string[] = [];
    for (const scenario of SCENARIOS) {
      for (const impl of impls) {
        const ms = results.get(`${scenario}/${impl.name}`);
        if (!ms) continue;
        const ops = ms.map((m) => m.opsPerSec);
        lines.push(
          `| ${scenario} | ${impl.name} | ${Math.round(median(ops)).toLocaleString('en')} | ${Math.round(Math.min(...ops)).toLocaleString('en')}-${Math.round(Math.max(...ops)).toLocaleString('en')} | ${median(ms.map((m) => m.redisCallsPerOp)).toFixed(2)} | ${ms.reduce((n, m) => n + m.wrong, 0)} |`,
        );
      }
      const mine = results.get(`${scenario}/ours`) ?? [];
      for (const other of impls.slice(1)) {
        const theirs = results.get(`${scenario}/${other.name}`);
        if (!theirs) continue;
        // Per-round ratios (the two ran back to back), then their median.
        const perRound = mine.map((m, r) => m.opsPerSec / (theirs[r]?.opsPerSec ?? Number.NaN));
        ratios.push(
          `| ${scenario} | ours / ${other.name} | ${median(perRound).toFixed(2)}x | [${perRound.map((x) => x.toFixed(2)).join(', ')}] |`,
        );
      }
    }
    console.log(`\n${lines.join('\n')}\n`);
    console.log(
      ['| scenario | ratio | median | per round |', '|---|---|---:|---|', ...ratios].join('\n'),
    );
  } finally {
    for (const r of [...redises, control]) r.disconnect();
    await server.stop();
  }
}

await main();
