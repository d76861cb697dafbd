// The realistic-mix scenarios against a Mandate build: introspection and evaluation over a seeded fleet with Zipf token reuse, and a mixed workload.
import type { LoadRequest, Scenario } from './drive-load.ts';
import {
  createZipfPicker,
  FLEET,
  FLEET_TOKEN_TTL_SEC,
  type FleetClients,
  type FleetGrant,
  registerFleetClients,
  seedFleet,
} from './fleet.ts';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
/** A pool of seeded tokens is seeded again once this old, so that no round outlives its tokens. */
const RESEED_AFTER_SEC = FLEET_TOKEN_TTL_SEC - 100;
/** Grants a mixed round may refresh or revoke (each once), seeded before the round. */
const MIXED_CONSUMABLE = Number(process.env.BENCH_MIXED_CONSUMABLE ?? 6000);

/**
 * One cycle of the mixed workload, in requests, for four agent tasks: a mint each, a refresh each
 * (a task of 5 to 10 minutes outlives its first 300 s token), ten checks per token split evenly
 * between introspection and evaluation, and one explicit revocation (the other tasks end by
 * expiry). See docs/performance.md ("The realistic mix").
 */
export const MIXED_CYCLE = { mint: 4, refresh: 4, introspect: 40, evaluate: 40, revoke: 1 };

interface Target {
  readonly name: string;
  readonly baseUrl: string;
  readonly adminToken: string;
  readonly redisUrl: string;
  /** The build's Redis key prefix (MANDATE_REDIS_PREFIX). */
  readonly prefix: string;
}

/** Registers the fleet's clients on `target` and returns its realistic-mix scenarios. */
export async function fleetScenarios(target: Target): Promise<Scenario[]> {
  const { name, baseUrl, adminToken } = target;
  const clients = await registerFleetClients(baseUrl, adminToken);
  const discovery = (await (
    await fetch(`${baseUrl}/.well-known/oauth-authorization-server`)
  ).json()) as { issuer: string };
  const seed = (count: number) =>
    seedFleet({ ...target, issuer: discovery.issuer, clients, count });
  let pool: { grants: FleetGrant[]; seededAtMs: number } | undefined;
  const livePool = async () => {
    if (!pool || Date.now() - pool.seededAtMs > RESEED_AFTER_SEC * 1000) {
      const started = Date.now();
      pool = { grants: await seed(FLEET.grants), seededAtMs: Date.now() };
      console.log(
        `bench: ${name}: seeded ${FLEET.grants} live grants in ${Date.now() - started} ms`,
      );
    }
    return pool.grants;
  };
  const checks = createCheckRequests(clients);
  // Every round replays the same picks (the same seed), so builds and rounds see one sequence.
  const zipfOver = (grants: FleetGrant[]) => {
    const pick = createZipfPicker(grants.length);
    return () => grants[pick()] as FleetGrant;
  };
  return [
    {
      id: `${name}.introspection-mix`,
      request: { method: 'POST', path: '/oauth/introspect' },
      realistic: true,
      schedule: async () => {
        const next = zipfOver(await livePool());
        return () => checks.introspect(next());
      },
      okBody: '"active":true',
    },
    {
      id: `${name}.evaluation-mix`,
      request: { method: 'POST', path: '/access/v1/evaluation' },
      realistic: true,
      schedule: async () => {
        const next = zipfOver(await livePool());
        return () => checks.evaluate(next());
      },
      okBody: '"decision":true',
    },
    {
      id: `${name}.mixed`,
      request: { method: 'POST', path: '/oauth/token' },
      realistic: true,
      schedule: async () => {
        const next = zipfOver(await livePool());
        const consumable = await seed(MIXED_CONSUMABLE);
        const cycle = mixedCycle();
        let minted = 0;
        return (i) => {
          const op = cycle[i % cycle.length];
          if (op === 'mint') return mintRequest(clients, minted++);
          // Refreshes from the front of the consumable grants, revocations from the back: each
          // once. A round that outruns them checks tokens instead.
          if (op === 'refresh' && consumable.length > 0)
            return refreshRequest(clients, consumable.shift() as FleetGrant);
          if (op === 'revoke' && consumable.length > 0)
            return revokeRequest(adminToken, consumable.pop() as FleetGrant);
          return op === 'evaluate' ? checks.evaluate(next()) : checks.introspect(next());
        };
      },
    },
  ];
}

/** Introspection and evaluation requests for a fleet token, each by its resource's own client. */
function createCheckRequests(clients: FleetClients) {
  return {
    introspect: (g: FleetGrant): LoadRequest => ({
      method: 'POST',
      path: '/oauth/introspect',
      headers: { 'content-type': FORM, authorization: clients.resources[g.resource]!.auth },
      body: `token=${g.token}`,
    }),
    evaluate: (g: FleetGrant): LoadRequest => ({
      method: 'POST',
      path: '/access/v1/evaluation',
      headers: { 'content-type': JSON_TYPE, authorization: clients.resources[g.resource]!.auth },
      body: JSON.stringify({
        subject: { type: 'agent', id: clients.agents[g.agent]!.id, properties: { token: g.token } },
        action: { name: 'read' },
        resource: { type: 'resource', id: clients.resources[g.resource]!.location },
        context: { ip: '203.0.113.9' },
      }),
    }),
  };
}

/** MIXED_CYCLE's operations in a fixed shuffled order (the same on every run). */
function mixedCycle(): string[] {
  const ops = Object.entries(MIXED_CYCLE).flatMap(([op, n]) => Array<string>(n).fill(op));
  let state = 7;
  for (let i = ops.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [ops[i], ops[j]] = [ops[j] as string, ops[i] as string];
  }
  return ops;
}

/** A mint by the fleet's agents in turn, each for a task on one of the fleet's resources. */
function mintRequest(clients: FleetClients, n: number): LoadRequest {
  const agent = n % clients.agents.length;
  const location = clients.resources[n % clients.resources.length]!.location;
  return {
    method: 'POST',
    path: '/oauth/token',
    headers: { 'content-type': FORM, authorization: clients.agents[agent]!.auth },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      authorization_details: JSON.stringify([
        { type: 'agent_task', task_id: `M-${n}`, actions: ['read'], locations: [location] },
      ]),
    }).toString(),
  };
}

function refreshRequest(clients: FleetClients, g: FleetGrant): LoadRequest {
  return {
    method: 'POST',
    path: '/oauth/token',
    headers: { 'content-type': FORM, authorization: clients.agents[g.agent]!.auth },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: g.refreshToken,
    }).toString(),
  };
}

function revokeRequest(adminToken: string, g: FleetGrant): LoadRequest {
  return {
    method: 'POST',
    path: '/admin/revocations',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': JSON_TYPE },
    body: JSON.stringify({ jti: g.jti, reason: 'bench' }),
  };
}
