// An MCP tools/call through mandate/mcp beside the same call on an unprotected server: what the per-call decision adds.
//
// Run: npm run bench:mcp   (or node_modules/.bin/node --import tsx scripts/bench/mcp-tools-call.ts)
// BENCH_ROUNDS (default 10) interleaved rounds of BENCH_CALLS (default 200) sequential calls each,
// first to the unprotected server, then to the guarded one. Every guarded call of the warm-up and
// the rounds presents a token of its own (one grant each; BENCH_TOKENS overrides how many are
// minted and used in turn), so nothing is reused: no permit (the MCP guard caches none by default)
// and no verified token. A last guarded round presents one token again and again: the guard's own
// work for a session that calls many tools with one token (verified once, then remembered).
// Both servers are the official SDK's McpServer + StreamableHTTPServerTransport (Node, JSON
// responses) in this process; the broker (`mandate serve`) is its own process on a private Redis.
// Prints p50/p99 of each side, the added p50, the guard's AuthZEN round trip (the decision) and the
// guard's own in-process work without it;
// writes bench-results/mcp-tools-call-<timestamp>.json (and -latest.json).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createMcpGuard, type McpGuard, type McpNodeMiddleware } from '../../src/client/mcp.ts';
import { addTicketPolicies, TICKET_TOOLS } from '../mcp/tickets-policy.ts';
import { type RunningServer, serveNode } from '../mcp/tickets-server.ts';
import {
  type Broker,
  latencySummary,
  machineMeta,
  newAdminToken,
  post,
  registerClient,
  round2,
  startBroker,
  writeBrokerConfig,
  writeFigure,
} from './broker-processes.ts';
import { freePort } from './free-port.ts';
import { startPrivateRedis } from './private-redis.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const WARMUP = 100;
const TOKENS = Number(process.env.BENCH_TOKENS ?? ROUNDS * CALLS + WARMUP);
for (const [name, n] of Object.entries({ ROUNDS, CALLS, TOKENS }))
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`BENCH_${name} must be a positive integer`);

/** One tools/call over a fresh request (keep-alive connection of the global fetch). */
async function toolsCall(endpoint: string, token: string | undefined, i: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: i,
      method: 'tools/call',
      params: { name: 'search_tickets', arguments: { query: 'invoice' } },
    }),
  });
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200 || !body.includes('T-3'))
    throw new Error(`tools/call answered ${res.status}: ${body.slice(0, 200)}`);
  return ms;
}

/** Microseconds of CPU (user + system) this process used since `since`. */
function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/** Registers a client through the admin API and returns its one-time secret. */
async function registeredSecret(
  baseUrl: string,
  adminToken: string,
  body: object,
): Promise<string> {
  const res = await fetch(`${baseUrl}/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { client_secret?: string };
  if (res.status !== 201 || !json.client_secret) throw new Error(`registering: ${res.status}`);
  return json.client_secret;
}

const metaAtStart = machineMeta();
const redis = await startPrivateRedis();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-mcp-bench-'));
let broker: Broker | undefined;
const servers: RunningServer[] = [];
let guard: McpGuard | undefined;
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
    prefix: 'mcpbench:',
  });
  const [plainPort, guardedPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${guardedPort}/mcp`;
  const plain = `http://127.0.0.1:${plainPort}/mcp`;
  const mcpSecret = await registeredSecret(broker.baseUrl, adminToken, {
    client_id: 'bench-mcp',
    name: 'bench MCP',
    kind: 'resource',
    resources: [endpoint],
    actions: [...TICKET_TOOLS],
  });
  await addTicketPolicies(broker.baseUrl, adminToken);
  const agent = await registerClient(broker.baseUrl, adminToken, {
    client_id: 'bench-agent',
    name: 'bench agent',
    kind: 'agent',
  });

  // The decision: the guard's AuthZEN round trips, timed at its fetch.
  const decisionMs: number[] = [];
  const timedFetch: typeof fetch = async (input, init) => {
    const started = performance.now();
    const res = await fetch(input, init);
    if (String(input).endsWith('/access/v1/evaluation')) {
      const body = await res.arrayBuffer();
      decisionMs.push(performance.now() - started);
      return new Response(body, { status: res.status, headers: res.headers });
    }
    return res;
  };
  guard = createMcpGuard({
    issuer: broker.baseUrl,
    clientId: 'bench-mcp',
    clientSecret: mcpSecret,
    resource: endpoint,
    fetch: timedFetch,
  });
  servers.push(await serveNode(plainPort, true));
  // The guard's own work per call (body, JSON-RPC, token verification): entry to next(), minus
  // the AuthZEN round trip that happened in between.
  const guardMs: number[] = [];
  const middleware = guard.node();
  const timedGuard: McpNodeMiddleware = (req, res, next) => {
    const started = performance.now();
    const decisions = decisionMs.length;
    middleware(req, res, (err) => {
      const decided = decisionMs.length > decisions ? (decisionMs.at(-1) ?? 0) : 0;
      guardMs.push(performance.now() - started - decided);
      next(err);
    });
  };
  servers.push(await serveNode(guardedPort, true, timedGuard));

  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i++) {
    const minted = await post(
      `${broker.baseUrl}/oauth/token`,
      agent,
      { grant_type: 'client_credentials', scope: 'tools:search_tickets', resource: endpoint },
      'form',
    );
    const token = minted.body.access_token as string | undefined;
    if (minted.status !== 200 || !token) throw new Error(`minting token ${i}: ${minted.status}`);
    tokens.push(token);
  }

  let n = 0;
  let t = 0;
  for (let i = 0; i < WARMUP; i++) {
    await toolsCall(plain, undefined, n++);
    await toolsCall(endpoint, tokens[t++ % TOKENS], n++);
  }
  decisionMs.length = 0;
  guardMs.length = 0;
  const plainMs: number[] = [];
  const guardedMs: number[] = [];
  // CPU of this process (client, both servers, the guard and its HTTP client): robust to a busy machine.
  let plainCpuUs = 0;
  let guardedCpuUs = 0;
  const rounds: { round: number; plainP50: number | null; guardedP50: number | null }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const p: number[] = [];
    const g: number[] = [];
    let cpu = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) p.push(await toolsCall(plain, undefined, n++));
    plainCpuUs += cpuMicros(cpu);
    cpu = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) g.push(await toolsCall(endpoint, tokens[t++ % TOKENS], n++));
    guardedCpuUs += cpuMicros(cpu);
    plainMs.push(...p);
    guardedMs.push(...g);
    rounds.push({
      round: r + 1,
      plainP50: latencySummary(p).p50,
      guardedP50: latencySummary(g).p50,
    });
  }
  const unprotected = latencySummary(plainMs);
  const guarded = latencySummary(guardedMs);
  const decision = latencySummary(decisionMs);
  const guardLocal = latencySummary(guardMs);
  // One token for every call: verified once, then recalled.
  guardMs.length = 0;
  for (let i = 0; i < CALLS; i++) await toolsCall(endpoint, tokens[0], n++);
  const guardLocalReused = latencySummary(guardMs);
  const cpuPerCall = {
    plainUs: Math.round(plainCpuUs / (ROUNDS * CALLS)),
    guardedUs: Math.round(guardedCpuUs / (ROUNDS * CALLS)),
    addedUs: Math.round((guardedCpuUs - plainCpuUs) / (ROUNDS * CALLS)),
  };
  const addedP50 = round2((guarded.p50 ?? 0) - (unprotected.p50 ?? 0));
  const addedP99 = round2((guarded.p99 ?? 0) - (unprotected.p99 ?? 0));
  console.log(`MCP tools/call, ${ROUNDS} interleaved rounds x ${CALLS} calls, ${TOKENS} tokens`);
  console.log(`  unprotected      p50 ${unprotected.p50} ms  p99 ${unprotected.p99} ms`);
  console.log(`  mandate/mcp      p50 ${guarded.p50} ms  p99 ${guarded.p99} ms`);
  console.log(`  added            p50 ${addedP50} ms  p99 ${addedP99} ms`);
  console.log(`  decision (AuthZEN round trip) p50 ${decision.p50} ms  p99 ${decision.p99} ms`);
  console.log(
    `  guard in-process (without it)  p50 ${guardLocal.p50} ms  p99 ${guardLocal.p99} ms`,
  );
  console.log(
    `  the same, one token reused   p50 ${guardLocalReused.p50} ms  p99 ${guardLocalReused.p99} ms`,
  );
  console.log(
    `  CPU of this process per call: unprotected ${cpuPerCall.plainUs} µs, guarded ${cpuPerCall.guardedUs} µs (+${cpuPerCall.addedUs} µs: the guard and its AuthZEN request)`,
  );
  const files = await writeFigure('mcp-tools-call', {
    meta: { ...metaAtStart, loadAverageAtEnd: machineMeta().loadAverage },
    settings: { rounds: ROUNDS, calls: CALLS, tokens: TOKENS, warmup: WARMUP },
    unprotected,
    guarded,
    added: { p50: addedP50, p99: addedP99 },
    decision,
    guardLocal,
    guardLocalReused,
    cpuPerCall,
    rounds,
  });
  console.log(`  wrote ${files.join(', ')}`);
  exitCode = 0;
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  for (const s of servers) await s.close();
  guard?.close();
  await broker?.server.stop();
  await redis.stop();
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
