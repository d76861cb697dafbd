// The kill switch under load: while a second broker process mints for an agent as fast as it can,
// disabling or deleting the agent through the first leaves none of its tokens active, and no mint
// started after the admin call returned succeeds.
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { latestDecisions } from '../support/action-time.ts';
import {
  admin,
  type Credentials,
  createClient,
  deleteKeysUnder,
  introspect,
  mintToken,
  requestToken,
  task,
  waitFor,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

/** Concurrent mint loops against broker B: enough to keep mints in flight across the admin call. */
const LOOPS = 12;
/** Successful mints before the admin call, so its revocation has grants to walk meanwhile. */
const MINTED_BEFORE = 80;
// Every token is introspected on both brokers: the invalid-token throttle must not answer first.
const CONFIG = 'rate_limit: { invalid_tokens_per_minute: 1000000 }\n';

interface Attempt {
  readonly startedMs: number;
  readonly status: number;
  readonly error?: string | undefined;
  readonly token?: string | undefined;
}

/**
 * Mints for `agent` at `base` from LOOPS loops; keeps every attempt. Once `lastAfter(ms)` is called,
 * each loop ends after its first attempt started after `ms` (few failures: the failed-auth
 * throttle stays out of the way of the other tests).
 */
function mintStorm(base: string, agent: Credentials) {
  const attempts: Attempt[] = [];
  let stopped = false;
  let lastAfterMs = Number.POSITIVE_INFINITY;
  const loop = async () => {
    let last = false;
    while (!stopped && !last) {
      const startedMs = performance.now();
      last = startedMs > lastAfterMs;
      try {
        const res = await requestToken(base, agent, [task(['read'])]);
        attempts.push({
          startedMs,
          status: res.status,
          error: typeof res.body.error === 'string' ? res.body.error : undefined,
          token: res.status === 200 ? res.body.access_token : undefined,
        });
      } catch (err) {
        attempts.push({ startedMs, status: 0, error: String(err) });
      }
    }
  };
  const loops = Array.from({ length: LOOPS }, loop);
  return {
    attempts,
    minted: () => attempts.filter((a) => a.token !== undefined),
    startedAfter: (ms: number) => attempts.filter((a) => a.startedMs > ms),
    /** Lets every loop make one more attempt started after `ms`, then ends them all. */
    async lastAfter(ms: number) {
      lastAfterMs = ms;
      await Promise.all(loops);
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** The tokens among `tokens` that `base` still introspects as active (any other answer fails the test). */
async function stillActive(
  base: string,
  resource: Credentials,
  tokens: readonly string[],
): Promise<string[]> {
  const active: string[] = [];
  for (let i = 0; i < tokens.length; i += 16) {
    await Promise.all(
      tokens.slice(i, i + 16).map(async (token) => {
        const res = await introspect(base, resource, token);
        expect(res.status, res.text).toBe(200);
        if (res.body.active !== false) active.push(token);
      }),
    );
  }
  return active;
}

describe('kill switch with concurrent minting through a second broker process', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('kill-switch');
  let a: TestBroker;
  let b: BrokerProcess;
  let resource: Credentials;
  let redis: Redis;

  beforeAll(async () => {
    a = await startTestBroker({ prefix, config: CONFIG });
    b = await spawnBrokerProcess({
      redisUrl,
      prefix,
      config: CONFIG,
      env: { MANDATE_ISSUER: a.issuer },
    });
    resource = await createClient(a.url, {
      name: 'crm',
      kind: 'resource',
      resources: ['https://crm.example.com'],
    });
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    await b?.stop();
    await a?.close();
    await deleteKeysUnder(redisUrl, prefix);
  });

  /**
   * Starts the storm at B, makes `call` through A once MINTED_BEFORE mints succeeded, lets each loop
   * start one more mint after it returned; returns the storm and when the call returned.
   */
  async function killDuringStorm(
    agent: Credentials,
    call: () => Promise<{ status: number; text: string }>,
  ) {
    // B has authenticated (and cached) the agent before the storm.
    await mintToken(b.url, agent, [task(['read'])]);
    const storm = mintStorm(b.url, agent);
    try {
      expect(await waitFor(async () => storm.minted().length >= MINTED_BEFORE, 30_000, 10)).toBe(
        true,
      );
      const res = await call();
      const returnedMs = performance.now();
      expect(res.status, res.text).toBe(200);
      await storm.lastAfter(returnedMs);
      expect(storm.startedAfter(returnedMs).length).toBe(LOOPS);
      return { storm, returnedMs };
    } finally {
      await storm.stop();
    }
  }

  it('PATCH disabled: every token B minted is inactive on both brokers, and no mint started after the call succeeds', async () => {
    const agent = await createClient(a.url, {
      name: 'disabled under load',
      kind: 'agent',
      groups: [],
    });
    const { storm, returnedMs } = await killDuringStorm(agent, () =>
      admin(a.url, 'PATCH', `/admin/clients/${agent.client_id}`, { disabled: true }),
    );
    const after = storm.startedAfter(returnedMs);
    expect(after.filter((m) => m.status === 200)).toEqual([]);
    // Refused as an unauthenticated client (or throttled as one): never a transport failure.
    for (const m of after) expect([401, 429], JSON.stringify(m)).toContain(m.status);
    const tokens = storm.minted().map((m) => m.token as string);
    expect(tokens.length).toBeGreaterThanOrEqual(MINTED_BEFORE);
    expect((await stillActive(b.url, resource, tokens)).length, 'tokens still active at B').toBe(0);
    expect((await stillActive(a.url, resource, tokens)).length, 'tokens still active at A').toBe(0);
  }, 120_000);

  it('DELETE: every token B minted is inactive on both brokers, and no mint started after the call succeeds', async () => {
    const agent = await createClient(a.url, {
      name: 'deleted under load',
      kind: 'agent',
      groups: [],
    });
    const { storm, returnedMs } = await killDuringStorm(agent, () =>
      admin(a.url, 'DELETE', `/admin/clients/${agent.client_id}`),
    );
    const after = storm.startedAfter(returnedMs);
    expect(after.filter((m) => m.status === 200)).toEqual([]);
    for (const m of after) expect([401, 429], JSON.stringify(m)).toContain(m.status);
    const tokens = storm.minted().map((m) => m.token as string);
    expect(tokens.length).toBeGreaterThanOrEqual(MINTED_BEFORE);
    expect((await stillActive(b.url, resource, tokens)).length, 'tokens still active at B').toBe(0);
    expect((await stillActive(a.url, resource, tokens)).length, 'tokens still active at A').toBe(0);
    // The record is gone; the tombstone stays, outliving any grant the client could have held.
    expect(await redis.exists(`${prefix}client:${agent.client_id}`)).toBe(0);
    expect(await redis.get(`${prefix}{c:${agent.client_id}}:state`)).toBe('deleted');
    expect(await redis.ttl(`${prefix}{c:${agent.client_id}}:state`)).toBeGreaterThanOrEqual(86_400);
  }, 120_000);

  it('the grant-creating script refuses a marked client whatever B has cached, and records why', async () => {
    const agent = await createClient(a.url, { name: 'marked', kind: 'agent', groups: [] });
    // B authenticates the agent and caches it as enabled.
    await mintToken(b.url, agent, [task(['read'])]);
    // Only the mark, as a PATCH writes it before revoking, with no record change or cache event.
    await redis.set(`${prefix}{c:${agent.client_id}}:state`, 'disabled');
    const refused = await requestToken(b.url, agent, [task(['read'])]);
    expect(refused.status, refused.text).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic/);
    const records = (await latestDecisions(a.url, 50)).filter(
      (r) => r.client_id === agent.client_id,
    );
    const refusal = records.find((r) => r.outcome === 'refused');
    expect(refusal).toMatchObject({ kind: 'denial', reasons: ['client_disabled'] });
    // Its grant was never created: only the mint record names it.
    const grant = await admin(a.url, 'GET', `/admin/grants/${refusal?.grant_id}`);
    expect(grant.status).toBe(404);
    await redis.del(`${prefix}{c:${agent.client_id}}:state`);
    expect((await requestToken(b.url, agent, [task(['read'])])).status).toBe(200);
  });

  it('PATCH disabled:false enables the client again on both brokers', async () => {
    const agent = await createClient(a.url, { name: 're-enabled', kind: 'agent', groups: [] });
    const before = await mintToken(b.url, agent, [task(['read'])]);
    expect(
      (await admin(a.url, 'PATCH', `/admin/clients/${agent.client_id}`, { disabled: true })).status,
    ).toBe(200);
    expect((await requestToken(b.url, agent, [task(['read'])])).status).toBe(401);
    expect(
      (await admin(a.url, 'PATCH', `/admin/clients/${agent.client_id}`, { disabled: false }))
        .status,
    ).toBe(200);
    expect(await redis.exists(`${prefix}{c:${agent.client_id}}:state`)).toBe(0);
    // B drops its cached copy on the client event; the mint works again there and at A.
    expect(
      await waitFor(
        async () => (await requestToken(b.url, agent, [task(['read'])])).status === 200,
        6000,
      ),
    ).toBe(true);
    const again = await mintToken(a.url, agent, [task(['read'])]);
    expect(await stillActive(a.url, resource, [again.access_token])).toEqual([again.access_token]);
    // What the kill switch ended stays ended.
    expect(await stillActive(b.url, resource, [before.access_token])).toEqual([]);
  });

  it('a PATCH racing a DELETE cannot bring the deleted client back', async () => {
    const agent = await createClient(a.url, { name: 'gone', kind: 'agent', groups: [] });
    expect((await admin(a.url, 'DELETE', `/admin/clients/${agent.client_id}`)).status).toBe(200);
    // The PATCH that read the record before the delete would now write it back: refused.
    const raw = JSON.stringify({
      client_id: agent.client_id,
      name: 'gone',
      kind: 'agent',
      groups: [],
      attributes: {},
      resources: [],
      token_endpoint_auth_method: 'client_secret_basic',
      disabled: false,
      created_at: 0,
      updated_at: 0,
    });
    const mandate = a.mandate.deps.broker;
    expect(await mandate.clients.put(JSON.parse(raw))).toBe(false);
    expect(await redis.exists(`${prefix}client:${agent.client_id}`)).toBe(0);
    // Creating the id again is deliberate: it clears the tombstone (the new client has its own secret).
    const reborn = await createClient(a.url, {
      client_id: agent.client_id,
      name: 'reborn',
      kind: 'agent',
      groups: [],
    });
    expect(await redis.exists(`${prefix}{c:${agent.client_id}}:state`)).toBe(0);
    expect((await requestToken(b.url, reborn, [task(['read'])])).status).toBe(200);
    expect((await requestToken(b.url, agent, [task(['read'])])).status).toBe(401);
  });
});
