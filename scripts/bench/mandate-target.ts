// Mandate itself as a benchmark target: started with `src/cli.ts serve`, set up over the admin API (contract v1).
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  benchPolicies,
  jtiOf,
  RESOURCE,
  registerClient,
  writeConfigFile,
} from './broker-processes.ts';
import { createBenchProver } from './dpop-prover.ts';
import type { Scenario } from './drive-load.ts';
import { freePort } from './free-port.ts';
import { fleetScenarios } from './mandate-fleet-scenarios.ts';
import { startServerProcess } from './server-process.ts';
import { AUTHORIZATION_DETAILS, postForm, type Target, type TargetContext } from './targets.ts';

const REPO = resolve(import.meta.dirname, '../..');

export interface MandateBuild {
  /** Target and scenario name prefix: `mandate`, or `baseline` for another checkout. */
  readonly name: string;
  /** The checkout whose `src/cli.ts` serves (its own node_modules included). */
  readonly repo: string;
}
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
/** Parallel requests used to mint the pools of refresh tokens and jtis. */
const MINT_CONCURRENCY = 16;
/**
 * Starts Mandate on the private Redis, registers an agent and a resource client, and returns its scenarios.
 * `build` names another checkout to measure side by side with this one (BENCH_BASELINE).
 */
export async function startMandate(
  ctx: TargetContext,
  build: MandateBuild = { name: 'mandate', repo: REPO },
): Promise<Target> {
  const { name } = build;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(32).toString('base64url');
  const server = await startServerProcess({
    name,
    args: ['--import', 'tsx', join(build.repo, 'src/cli.ts'), 'serve'],
    env: {
      MANDATE_PORT: String(port),
      MANDATE_HOST: '127.0.0.1',
      REDIS_URL: ctx.redisUrl,
      MANDATE_REDIS_PREFIX: `bench:${name}:`,
      MANDATE_ADMIN_TOKEN: adminToken,
      // One process (`serve` runs one per core otherwise; a build without --processes ignores it).
      MANDATE_PROCESSES: '1',
      // The default policies minus the usage throttle, so that load is not refused as abuse.
      // One bench agent holds every grant a run mints; a build from before the per-agent cap has no such key.
      MANDATE_CONFIG: await writeConfigFile(
        ctx.workDir,
        hasAgentCap(build.repo)
          ? {
              policy: await benchPolicies(ctx.workDir),
              limits: { max_live_grants_per_agent: 1_000_000 },
            }
          : { policy: await benchPolicies(ctx.workDir) },
        `${name}.yaml`,
      ),
    },
    readyUrl: `${baseUrl}/readyz`,
    logFile: join(ctx.workDir, `${name}.log`),
    readyTimeoutMs: 60_000,
  });
  try {
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': JSON_TYPE };
    const agentAuth = {
      'content-type': FORM,
      authorization: await registerClient(baseUrl, adminToken, {
        client_id: 'bench-agent',
        name: 'bench agent',
        kind: 'agent',
      }),
    };
    const rsAuth = await registerClient(baseUrl, adminToken, {
      client_id: 'bench-crm',
      name: 'bench CRM',
      kind: 'resource',
      resources: [RESOURCE],
    });
    const mintForm = {
      grant_type: 'client_credentials',
      authorization_details: AUTHORIZATION_DETAILS,
    };
    const mint = () => postForm(`${baseUrl}/oauth/token`, mintForm, agentAuth);
    const keyed = await registerKeyedAgent(baseUrl, adminToken);
    const freshToken = async () => String((await mint()).access_token);
    // DPoP: proofs name the token endpoint by the issuer's URL (here the base URL) and are single-use.
    const prover = createBenchProver();
    const tokenUrl = `${baseUrl}/oauth/token`;
    const freshBoundToken = async () =>
      String(
        (
          await postForm(tokenUrl, mintForm, {
            ...agentAuth,
            DPoP: prover.proof('POST', tokenUrl),
          })
        ).access_token,
      );
    const CALL = { method: 'GET', uri: `${RESOURCE}/records/1` };
    const scenarios: Scenario[] = [
      {
        id: `${name}.token`,
        realistic: true,
        request: {
          method: 'POST',
          path: '/oauth/token',
          headers: agentAuth,
          body: new URLSearchParams(mintForm).toString(),
        },
      },
      // private_key_jwt: every request a fresh assertion (its own jti), all signed before the timed
      // run, so the client's signing is not measured; a build without private_key_jwt has none.
      ...(keyed
        ? [
            {
              id: `${name}.token-pkjwt`,
              request: { method: 'POST', path: '/oauth/token', headers: { 'content-type': FORM } },
              bodies: async (n: number) =>
                Array.from({ length: n }, () =>
                  new URLSearchParams({
                    ...mintForm,
                    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                    client_assertion: keyed.assertion(baseUrl),
                  }).toString(),
                ),
            } satisfies Scenario,
          ]
        : []),
      {
        id: `${name}.refresh`,
        request: { method: 'POST', path: '/oauth/token', headers: agentAuth },
        // Refresh tokens rotate: every request needs a grant of its own.
        bodies: (n) =>
          mintMany(n, mint, (t) =>
            new URLSearchParams({
              grant_type: 'refresh_token',
              refresh_token: String(t.refresh_token),
            }).toString(),
          ),
      },
      {
        id: `${name}.introspection`,
        request: {
          method: 'POST',
          path: '/oauth/introspect',
          headers: { 'content-type': FORM, authorization: rsAuth },
        },
        freshBody: async () => new URLSearchParams({ token: await freshToken() }).toString(),
        okBody: '"active":true',
      },
      {
        id: `${name}.evaluation`,
        request: {
          method: 'POST',
          path: '/access/v1/evaluation',
          headers: { 'content-type': JSON_TYPE, authorization: rsAuth },
        },
        freshBody: async () => evaluationBody(await freshToken()),
        okBody: '"decision":true',
      },
      {
        id: `${name}.token-dpop`,
        request: {
          method: 'POST',
          path: '/oauth/token',
          headers: agentAuth,
          body: new URLSearchParams(mintForm).toString(),
        },
        headerPool: async (n) =>
          Array.from({ length: n }, () => ({ DPoP: prover.proof('POST', tokenUrl) })),
        okBody: '"token_type":"DPoP"',
      },
      {
        id: `${name}.introspection-dpop`,
        request: {
          method: 'POST',
          path: '/oauth/introspect',
          headers: { 'content-type': FORM, authorization: rsAuth },
        },
        freshBody: async () => new URLSearchParams({ token: await freshBoundToken() }).toString(),
        okBody: '"cnf":{"jkt"',
      },
      {
        id: `${name}.evaluation-dpop`,
        request: {
          method: 'POST',
          path: '/access/v1/evaluation',
          headers: { 'content-type': JSON_TYPE, authorization: rsAuth },
        },
        // One bound token; each request forwards a proof of its own for the guarded call.
        bodies: async (n) => {
          const token = await freshBoundToken();
          return Array.from({ length: n }, () =>
            evaluationBody(token, {
              dpop: prover.proof(CALL.method, CALL.uri, token),
              http: CALL,
            }),
          );
        },
        okBody: '"decision":true',
      },
      {
        id: `${name}.revocation`,
        request: { method: 'POST', path: '/admin/revocations', headers: admin },
        bodies: (n) =>
          mintMany(n, mint, (t) =>
            JSON.stringify({ jti: jtiOf(String(t.access_token)), reason: 'bench' }),
          ),
        okBody: '"revoked"',
      },
      ...(await fleetScenarios({
        name,
        baseUrl,
        adminToken,
        redisUrl: ctx.redisUrl,
        prefix: `bench:${name}:`,
      })),
    ];
    return { name, server, baseUrl, scenarios };
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message}\n--- ${name} log tail ---\n${server.logTail()}`);
  }
}

const KEYED_AGENT = 'bench-keyed-agent';

/**
 * Registers a private_key_jwt agent with a fresh ES256 key; undefined when the build refuses it
 * (a baseline from before private_key_jwt). `assertion(aud)` signs one with node:crypto.
 */
async function registerKeyedAgent(
  baseUrl: string,
  adminToken: string,
): Promise<{ assertion: (aud: string) => string } | undefined> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', alg: 'ES256' };
  const res = await fetch(`${baseUrl}/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': JSON_TYPE },
    body: JSON.stringify({
      client_id: KEYED_AGENT,
      name: 'bench keyed agent',
      kind: 'agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
    }),
  });
  await res.text();
  if (res.status !== 201) return undefined;
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'bench-1' })).toString(
    'base64url',
  );
  return {
    assertion(aud) {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: KEYED_AGENT, sub: KEYED_AGENT, aud, iat: now, exp: now + 290 };
      const payload = Buffer.from(
        JSON.stringify({ ...claims, jti: randomBytes(12).toString('base64url') }),
      ).toString('base64url');
      const input = `${header}.${payload}`;
      const sig = sign('sha256', Buffer.from(input), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      return `${input}.${sig.toString('base64url')}`;
    },
  };
}

/** Whether the build in `repo` caps live grants per agent (its config schema then knows the key). */
function hasAgentCap(repo: string): boolean {
  return readFileSync(join(repo, 'src/config/schema.ts'), 'utf8').includes(
    'max_live_grants_per_agent',
  );
}

/** An AuthZEN evaluation of `read` on the bench resource with `token` (and a forwarded DPoP proof). */
function evaluationBody(
  token: string,
  dpop?: { dpop: string; http: { method: string; uri: string } },
): string {
  return JSON.stringify({
    subject: {
      type: 'agent',
      id: 'bench-agent',
      properties: dpop ? { token, dpop: dpop.dpop } : { token },
    },
    action: { name: 'read' },
    resource: { type: 'resource', id: RESOURCE },
    context: { ip: '203.0.113.9', step: 'read', ...(dpop ? { http: dpop.http } : {}) },
  });
}

/** Mints `n` grants, MINT_CONCURRENCY at a time, and turns each token response into a request body. */
async function mintMany(
  n: number,
  mint: () => Promise<Record<string, unknown>>,
  toBody: (tokenResponse: Record<string, unknown>) => string,
): Promise<string[]> {
  const bodies: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      bodies.push(toBody(await mint()));
    }
  };
  await Promise.all(Array.from({ length: Math.min(MINT_CONCURRENCY, n) }, worker));
  return bodies;
}
