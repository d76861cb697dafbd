// Amplification bounds over HTTP: pair caps answered before any decision, and a sweep that never holds the event loop.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventLoopYielder } from '../../src/services/event-loop-yielder.ts';
import { reevaluateGrants } from '../../src/services/reevaluate-grants.ts';
import { sweep } from '../../src/worker/reevaluation-worker.ts';
import {
  admin,
  type Credentials,
  createClient,
  createClients,
  type HttpResult,
  introspect,
  keysUnder,
  mintToken,
  oauthPost,
  requestToken,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

/** The configured default of limits.max_pairs_per_request and limits.max_pairs_per_grant. */
const CAP = 64;

const urls = (n: number, host = 'r') =>
  Array.from({ length: n }, (_, i) => `https://${host}${i}.example.com`);
const names = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);

/** Default policy permits read/search/list to any agent: 2 actions x 32 locations are exactly the cap, all permitted. */
const atCap = (taskId: string, host = 'r') => [
  task(['read', 'search'], { taskId, locations: urls(32, host) }),
];

function expectOAuthError(res: HttpResult, code: string) {
  expect(res.status, res.text).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body.error).toBe(code);
  for (const k of Object.keys(res.body))
    expect(['error', 'error_description', 'error_uri']).toContain(k);
}

async function decisionCount(broker: TestBroker): Promise<number> {
  const redis = new Redis(broker.redisUrl, { maxRetriesPerRequest: 1 });
  try {
    return await redis.xlen(`${broker.prefix}decisions`);
  } finally {
    redis.disconnect();
  }
}

describe('pair caps on token requests', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url, { resources: urls(32) }));
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('answers the 16 x 32 x 32 request with 400 invalid_authorization_details at once, storing nothing', async () => {
    const huge = Array.from({ length: 16 }, () =>
      task(names(32), { taskId: 'T-huge', locations: urls(32) }),
    );
    const keysBefore = await keysUnder(broker.redisUrl, broker.prefix);
    const recordsBefore = await decisionCount(broker);
    const started = performance.now();
    const res = await requestToken(broker.url, agent, huge);
    const tookMs = performance.now() - started;
    expectOAuthError(res, 'invalid_authorization_details');
    expect(String(res.body.error_description)).toMatch(new RegExp(`16384 .*at most ${CAP}`));
    // Deciding 16,384 pairs took 1.3 s; parsing the body and refusing it costs a few ms.
    expect(tookMs).toBeLessThan(500);
    await sleep(100); // decision records are written without waiting
    expect(await keysUnder(broker.redisUrl, broker.prefix)).toEqual(keysBefore);
    expect(await decisionCount(broker)).toBe(recordsBefore);
  });

  it('admits a request of exactly the cap and refuses one pair more', async () => {
    const ok = await requestToken(broker.url, agent, atCap('T-cap'));
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.authorization_details).toEqual(atCap('T-cap'));
    expect((await introspect(broker.url, resource, ok.body.access_token)).body.active).toBe(true);

    const over = [...atCap('T-over'), task(['list'], { taskId: 'T-over', locations: urls(1) })];
    const keysBefore = await keysUnder(broker.redisUrl, broker.prefix);
    expectOAuthError(await requestToken(broker.url, agent, over), 'invalid_authorization_details');
    await sleep(100);
    expect(await keysUnder(broker.redisUrl, broker.prefix)).toEqual(keysBefore);
  });

  it('caps the scope + resource shorthand', async () => {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'read search list',
    });
    for (const r of urls(22)) form.append('resource', r);
    expectOAuthError(
      await oauthPost(broker.url, '/oauth/token', form, agent),
      'invalid_authorization_details',
    );
  });

  it('refuses an elevation beyond the cap and leaves the grant as it was', async () => {
    const t = await mintToken(broker.url, agent, [
      task(['read'], { taskId: 'T-elevate', locations: urls(1) }),
    ]);
    const recordsBefore = await decisionCount(broker);
    const wider = [task(['read', 'search', 'list'], { taskId: 'T-elevate', locations: urls(32) })];
    const res = await oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: 'refresh_token',
        refresh_token: t.refresh_token,
        authorization_details: JSON.stringify(wider),
      },
      agent,
    );
    expectOAuthError(res, 'invalid_authorization_details');
    await sleep(100);
    expect(await decisionCount(broker)).toBe(recordsBefore);
    const grant = await admin<{ granted: unknown }>(
      broker.url,
      'GET',
      `/admin/grants/${t.grant_id}`,
    );
    expect(grant.body.granted).toEqual(t.authorization_details);
    // The refresh token was not consumed: the same one still refreshes.
    const again = await oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: t.refresh_token },
      agent,
    );
    expect(again.status, again.text).toBe(200);
  });
});

describe('a sweep over many grants at the cap', () => {
  // No decision cache: every grant is decided afresh, as with many distinct agents and contexts.
  const GRANTS = 240;
  const AGENTS = 12;
  /**
   * Longest the sweep may hold the event loop, in CPU time of this thread between two timer
   * turns: a stall caused by the code, not by a shared machine descheduling the process (the
   * wall-clock delay is reported beside it, not asserted).
   */
  const MAX_STALL_MS = 100;
  let broker: TestBroker;
  let ids: string[];

  beforeAll(async () => {
    broker = await startTestBroker({ config: 'policy: { decision_cache_entries: 0 }\n' });
    const agents: Credentials[] = [];
    for (let i = 0; i < AGENTS; i += 1) {
      agents.push(
        await createClient(broker.url, { name: `sweep agent ${i}`, kind: 'agent', groups: [] }),
      );
    }
    ids = [];
    for (let i = 0; i < GRANTS; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: 8 }, (_, j) =>
          mintToken(
            broker.url,
            agents[(i + j) % AGENTS] as Credentials,
            atCap(`T-${i + j}`, `h${i + j}-`),
          ),
        ),
      );
      ids.push(...batch.map((t) => t.grant_id));
    }
  }, 120_000);
  afterAll(async () => {
    await broker?.close();
  });

  /** CPU time of this thread (ms); process-wide where Node lacks threadCpuUsage (still blind to descheduling). */
  const cpuMs = () => {
    const u = process.threadCpuUsage?.() ?? process.cpuUsage();
    return (u.user + u.system) / 1000;
  };

  /**
   * Runs `work` while a 2 ms timer samples the event loop: the most CPU this thread spent between
   * two of its turns (the stall), the timer's worst wall-clock delay, and the wall time of `work`.
   */
  async function measured<T>(work: () => Promise<T>) {
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    let lastCpu = cpuMs();
    let stallMs = 0;
    const ticker = setInterval(() => {
      const now = cpuMs();
      stallMs = Math.max(stallMs, now - lastCpu);
      lastCpu = now;
    }, 2);
    histogram.enable();
    const started = performance.now();
    const result = await work();
    const tookMs = performance.now() - started;
    // A stall is seen when the late timers finally run: give them the turns to do so.
    await sleep(20);
    histogram.disable();
    clearInterval(ticker);
    const wallMs = histogram.max / 1e6;
    const text = `${stallMs.toFixed(1)} ms CPU, ${wallMs.toFixed(1)} ms wall, in ${tookMs.toFixed(0)} ms`;
    return { result, stallMs, text };
  }

  it('hands the event loop back every few ms, with the same outcome as deciding the batch in one go', async () => {
    const inProcess = broker.mandate.deps.broker;
    // The unyielded batch: what the sweep did before. It must stall the loop far beyond the bound,
    // or this workload proves nothing on this machine.
    const unyielded = createEventLoopYielder({ budgetMs: Number.POSITIVE_INFINITY });
    const blocking = await measured(() =>
      reevaluateGrants(inProcess, ids, 'test-unyielded', unyielded),
    );
    expect(blocking.result).toMatchObject({
      keep: GRANTS,
      narrow: 0,
      suspend: 0,
      revoke: 0,
      missing: 0,
    });
    expect(blocking.stallMs, `unyielded: ${blocking.text}`).toBeGreaterThan(5 * MAX_STALL_MS);

    // The worker's sweep, one batch of every grant, as scheduled.
    const yielding = await measured(() => sweep(inProcess, 500, 'test-sweep'));
    expect(yielding.result).toEqual(blocking.result);
    expect(
      yielding.stallMs,
      `yielding: ${yielding.text}; unyielded: ${blocking.text}`,
    ).toBeLessThan(MAX_STALL_MS);
  }, 60_000);
});
