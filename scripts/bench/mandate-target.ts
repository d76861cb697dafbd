// Mandate itself as a benchmark target: started with `src/cli.ts serve`, set up over the admin API (contract v1).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Scenario } from './drive-load.ts';
import { freePort } from './free-port.ts';
import { startServerProcess } from './server-process.ts';
import {
  AUTHORIZATION_DETAILS,
  basicAuth,
  postForm,
  type Target,
  type TargetContext,
} from './targets.ts';

const REPO = resolve(import.meta.dirname, '../..');
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const RESOURCE = 'https://crm.example.com';
/** Parallel requests used to mint the pools of refresh tokens and jtis. */
const MINT_CONCURRENCY = 16;
/** Default policy whose whole point is to stop an agent calling this often: a load test must not trip it. */
const THROTTLE_POLICIES = ['call-volume'];

/** Starts Mandate on the private Redis, registers an agent and a resource client, and returns its scenarios. */
export async function startMandate(ctx: TargetContext): Promise<Target> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(32).toString('base64url');
  const server = await startServerProcess({
    name: 'mandate',
    args: ['--import', 'tsx', join(REPO, 'src/cli.ts'), 'serve'],
    env: {
      MANDATE_PORT: String(port),
      MANDATE_HOST: '127.0.0.1',
      REDIS_URL: ctx.redisUrl,
      MANDATE_REDIS_PREFIX: 'bench:mandate:',
      MANDATE_ADMIN_TOKEN: adminToken,
      MANDATE_CONFIG: await writeBenchConfig(ctx.workDir),
    },
    readyUrl: `${baseUrl}/readyz`,
    logFile: join(ctx.workDir, 'mandate.log'),
    readyTimeoutMs: 60_000,
  });
  try {
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': JSON_TYPE };
    const agentSecret = await createClient(baseUrl, admin, {
      client_id: 'bench-agent',
      name: 'bench agent',
      kind: 'agent',
    });
    const rsSecret = await createClient(baseUrl, admin, {
      client_id: 'bench-crm',
      name: 'bench CRM',
      kind: 'resource',
      resources: [RESOURCE],
    });
    const agentAuth = {
      'content-type': FORM,
      authorization: basicAuth('bench-agent', agentSecret),
    };
    const rsAuth = basicAuth('bench-crm', rsSecret);
    const mintForm = {
      grant_type: 'client_credentials',
      authorization_details: AUTHORIZATION_DETAILS,
    };
    const mint = () => postForm(`${baseUrl}/oauth/token`, mintForm, agentAuth);
    const freshToken = async () => String((await mint()).access_token);
    const scenarios: Scenario[] = [
      {
        id: 'mandate.token',
        request: {
          method: 'POST',
          path: '/oauth/token',
          headers: agentAuth,
          body: new URLSearchParams(mintForm).toString(),
        },
      },
      {
        id: 'mandate.refresh',
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
        id: 'mandate.introspection',
        request: {
          method: 'POST',
          path: '/oauth/introspect',
          headers: { 'content-type': FORM, authorization: rsAuth },
        },
        freshBody: async () => new URLSearchParams({ token: await freshToken() }).toString(),
        okBody: '"active":true',
      },
      {
        id: 'mandate.evaluation',
        request: {
          method: 'POST',
          path: '/access/v1/evaluation',
          headers: { 'content-type': JSON_TYPE, authorization: rsAuth },
        },
        freshBody: async () =>
          JSON.stringify({
            subject: { type: 'agent', id: 'bench-agent', properties: { token: await freshToken() } },
            action: { name: 'read' },
            resource: { type: 'resource', id: RESOURCE },
            context: { ip: '203.0.113.9', step: 'read' },
          }),
        okBody: '"decision":true',
      },
      {
        id: 'mandate.revocation',
        request: { method: 'POST', path: '/admin/revocations', headers: admin },
        bodies: (n) =>
          mintMany(n, mint, (t) =>
            JSON.stringify({ jti: jtiOf(String(t.access_token)), reason: 'bench' }),
          ),
        okBody: '"revoked"',
      },
    ];
    return { name: 'mandate', server, baseUrl, scenarios };
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message}\n--- mandate log tail ---\n${server.logTail()}`);
  }
}

/** A config with the default policies minus the usage throttles, so that load is not refused as abuse. */
async function writeBenchConfig(workDir: string): Promise<string> {
  const policyDir = join(workDir, 'mandate-policies');
  await mkdir(policyDir, { recursive: true });
  let policies = await readFile(join(REPO, 'config/policies/default.cedar'), 'utf8');
  for (const id of THROTTLE_POLICIES) {
    // A policy runs from its @id annotation to the `;` closing it (these bodies hold no other `;`).
    const pattern = new RegExp(`@id\\("${id}"\\)[^;]*;`);
    if (!pattern.test(policies))
      console.warn(`bench: policy ${id} not found; Mandate may throttle the load`);
    policies = policies.replace(pattern, `// (${id} removed for the benchmark)`);
  }
  await writeFile(join(policyDir, 'default.cedar'), policies);
  const file = join(workDir, 'mandate.yaml');
  const config = { policy: { dir: policyDir, schema: join(REPO, 'config/schema.cedarschema') } };
  // JSON is YAML: no need for a YAML writer.
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/** Registers a client through the admin API and returns its one-time secret. */
async function createClient(
  baseUrl: string,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await fetch(`${baseUrl}/admin/clients`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201)
    throw new Error(`POST /admin/clients -> HTTP ${res.status}: ${text.slice(0, 300)}`);
  const json = JSON.parse(text) as { client_secret?: string; client?: { client_secret?: string } };
  const secret = json.client_secret ?? json.client?.client_secret;
  if (!secret) throw new Error('POST /admin/clients answered without a client_secret');
  return secret;
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

function jtiOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as {
    jti?: string;
  };
  if (!payload.jti) throw new Error('access token without jti');
  return payload.jti;
}
