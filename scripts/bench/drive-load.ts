// The autocannon driver: one probe, a warm-up and timed rounds per scenario, with the server's CPU per request.
import autocannon from 'autocannon';
import type { ServerProcess } from './server-process.ts';

export interface LoadRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** One measured endpoint. */
export interface Scenario {
  /** `<server>.<kind>`, e.g. `mandate.token`. */
  readonly id: string;
  readonly request: LoadRequest;
  /** A substring every good answer contains (e.g. `"active":true`); answers without it count as mismatches. */
  readonly okBody?: string;
  /** For requests that use something up (a rotating refresh token, a jti to revoke): `count` fresh bodies. */
  readonly bodies?: (count: number) => Promise<string[]>;
  /**
   * Likewise for headers (a single-use DPoP proof): `count` sets of extra headers, one per request,
   * made before the round so that making them is not measured.
   */
  readonly headerPool?: (count: number) => Promise<Array<Record<string, string>>>;
  /**
   * For requests that carry a token: a body built anew before each round (rounds of every server
   * are interleaved, so a run outlasts a 300 s token minted at start).
   */
  readonly freshBody?: () => Promise<string>;
  /**
   * For a fleet of tokens: a pool of distinct bodies built anew before each round and cycled through
   * (request i uses body i mod pool size), so no one token is hot in the broker's memories.
   */
  readonly fleet?: () => Promise<string[]>;
  /**
   * For a realistic mix: a request maker built anew before each round (seeding what it needs);
   * request i of the round is `next(i)`, whatever its method, path, headers and body.
   */
  readonly schedule?: () => Promise<(i: number) => LoadRequest>;
  /** Part of the realistic mix `npm run bench` runs by default (the rest run with BENCH_ONLY). */
  readonly realistic?: boolean;
}

export interface RoundResult {
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly non2xx: number;
  /** 2xx answers that lacked the scenario's `okBody`. */
  readonly mismatches: number;
  /** Server CPU time (user + system) per completed request, in microseconds. */
  readonly cpuUsPerReq: number;
  /** The shared redis-server's CPU time per completed request (only one scenario runs at a time). */
  readonly redisCpuUsPerReq: number;
}

export interface RoundOptions {
  readonly baseUrl: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly server: ServerProcess;
  readonly redis: { cpuSeconds(): number };
  /** Requests per second expected, used to size the body pool of consuming scenarios. */
  readonly expectedRate?: number;
}

/** Thrown by `probeScenario` when the endpoint does not exist (yet): the scenario is reported as not available. */
export class NotAvailable extends Error {}

/** Sends the scenario's request once and checks it succeeds, so that a broken set-up fails before any load. */
export async function probeScenario(baseUrl: string, scenario: Scenario): Promise<void> {
  if (scenario.schedule) {
    const first = (await scenario.schedule())(0);
    return probeRequest(baseUrl, scenario, first, first.body);
  }
  const [body] = scenario.bodies
    ? await scenario.bodies(1)
    : scenario.fleet
      ? await scenario.fleet()
      : [scenario.freshBody ? await scenario.freshBody() : scenario.request.body];
  const [extra] = scenario.headerPool ? await scenario.headerPool(1) : [];
  const request = { ...scenario.request, headers: { ...scenario.request.headers, ...extra } };
  return probeRequest(baseUrl, scenario, request, body);
}

async function probeRequest(
  baseUrl: string,
  scenario: Scenario,
  { method, path, headers }: LoadRequest,
  body: string | undefined,
): Promise<void> {
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  if (res.status === 404) throw new NotAvailable(`${method} ${path} answered 404`);
  if (res.status < 200 || res.status > 299)
    throw new Error(`${scenario.id}: probe got HTTP ${res.status}: ${text.slice(0, 300)}`);
  if (scenario.okBody && !text.includes(scenario.okBody)) {
    throw new Error(`${scenario.id}: probe answer lacks ${scenario.okBody}: ${text.slice(0, 300)}`);
  }
}

/** The most bodies a consuming scenario's round uses (each is a grant minted beforehand). */
export const MAX_BODY_POOL = 50_000;

/**
 * Runs one round of load. Scenarios with `bodies` run a fixed number of requests sized from `expectedRate`
 * (each request consumes one body); the others run for `durationSec`.
 */
export async function runRound(scenario: Scenario, options: RoundOptions): Promise<RoundResult> {
  const { connections, durationSec } = options;
  const { method, path, headers } = scenario.request;
  const body = scenario.freshBody ? await scenario.freshBody() : scenario.request.body;
  let amount: number | undefined;
  let pool: string[] = [];
  let headerPool: Array<Record<string, string>> = [];
  if (scenario.bodies || scenario.headerPool) {
    const rate = options.expectedRate ?? 100;
    amount = Math.min(MAX_BODY_POOL, Math.max(connections * 20, Math.ceil(rate * durationSec)));
    // autocannon builds a connection's first request before sending: a little slack keeps the pool from running dry.
    const size = amount + connections * 2 + 10;
    if (scenario.bodies) pool = await scenario.bodies(size);
    if (scenario.headerPool) headerPool = await scenario.headerPool(size);
  }
  let mismatches = 0;
  const request: autocannon.Request = { method, path, headers };
  if (body !== undefined) request.body = body;
  if (scenario.bodies || scenario.headerPool) {
    request.setupRequest = (req) => {
      if (scenario.bodies) req.body = pool.pop() ?? '';
      if (scenario.headerPool) req.headers = { ...headers, ...headerPool.pop() };
      return req;
    };
  }
  if (scenario.fleet) {
    const fleet = await scenario.fleet();
    let next = 0;
    request.setupRequest = (req) => {
      req.body = fleet[next++ % fleet.length];
      return req;
    };
  }
  if (scenario.schedule) {
    const next = await scenario.schedule();
    let i = 0;
    request.setupRequest = (req) => Object.assign(req, next(i++));
  }
  if (scenario.okBody) {
    const ok = scenario.okBody;
    request.onResponse = (status, responseBody) => {
      if (status >= 200 && status < 300 && !responseBody.includes(ok)) mismatches++;
    };
  }
  const cpuBefore = options.server.cpuSeconds();
  const redisCpuBefore = options.redis.cpuSeconds();
  const result = await autocannon({
    url: options.baseUrl,
    connections,
    requests: [request],
    ...(amount === undefined ? { duration: durationSec } : { amount }),
  });
  const cpuSec = options.server.cpuSeconds() - cpuBefore;
  const redisCpuSec = options.redis.cpuSeconds() - redisCpuBefore;
  const requests = result.requests.total;
  return {
    reqPerSec: result.duration > 0 ? requests / result.duration : 0,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests,
    errors: result.errors,
    non2xx: result.non2xx,
    mismatches,
    cpuUsPerReq: requests > 0 ? (cpuSec * 1e6) / requests : 0,
    redisCpuUsPerReq: requests > 0 ? (redisCpuSec * 1e6) / requests : 0,
  };
}

/** The median of each figure over the rounds, with error counts summed (one error in any round matters). */
export function summarizeRounds(rounds: readonly RoundResult[]): RoundResult {
  const sum = (pick: (r: RoundResult) => number) => rounds.reduce((n, r) => n + pick(r), 0);
  return {
    reqPerSec: median(rounds.map((r) => r.reqPerSec)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    requests: sum((r) => r.requests),
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    mismatches: sum((r) => r.mismatches),
    cpuUsPerReq: median(rounds.map((r) => r.cpuUsPerReq)),
    redisCpuUsPerReq: median(rounds.map((r) => r.redisCpuUsPerReq)),
  };
}

/** The middle value (the mean of the two middle ones for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
