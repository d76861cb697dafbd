// The reference servers (ceiling, floor, peer): how each is started and which scenarios it offers.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Scenario } from './drive-load.ts';
import { freePort } from './free-port.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';

/** A started server and the scenarios to run against it. */
export interface Target {
  readonly name: string;
  readonly server: ServerProcess;
  readonly baseUrl: string;
  readonly scenarios: Scenario[];
}

export interface TargetContext {
  readonly redisUrl: string;
  /** Temp dir for logs and config files. */
  readonly workDir: string;
}

export const AUTHORIZATION_DETAILS = JSON.stringify([
  { type: 'agent_task', task_id: 'T-1', actions: ['read'], locations: ['https://crm.example.com'] },
]);

const FORM = 'application/x-www-form-urlencoded';
const SERVERS_DIR = join(import.meta.dirname, 'servers');

/** `Authorization: Basic` value for a client id and secret (RFC 6749 2.3.1 form-encodes both first). */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POSTs a form and returns the JSON answer, throwing on any non-2xx status. */
export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': FORM, ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} -> HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function startNodeServer(
  name: string,
  ctx: TargetContext,
  readyPath: string,
  env: Record<string, string> = {},
) {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = await startServerProcess({
    name,
    args: ['--import', 'tsx', join(SERVERS_DIR, `${name}.ts`)],
    env: {
      PORT: String(port),
      REDIS_URL: ctx.redisUrl,
      BENCH_REDIS_PREFIX: `bench:${name}:`,
      ...env,
    },
    readyUrl: baseUrl + readyPath,
    logFile: join(ctx.workDir, `${name}.log`),
  });
  return { server, baseUrl };
}

/** Ceiling: bare Hono saying hello. */
export async function startCeiling(ctx: TargetContext): Promise<Target> {
  const { server, baseUrl } = await startNodeServer('hello', ctx, '/');
  return {
    name: 'ceiling',
    server,
    baseUrl,
    scenarios: [{ id: 'ceiling.hello', request: { method: 'GET', path: '/' } }],
  };
}

/** Floor: a minimal Hono mint and introspect. */
export async function startFloor(ctx: TargetContext): Promise<Target> {
  const { server, baseUrl } = await startNodeServer('floor', ctx, '/healthz');
  const mint = { method: 'POST', path: '/token', headers: { 'content-type': FORM } } as const;
  const freshToken = async () =>
    String(
      (
        await postForm(baseUrl + mint.path, {
          grant_type: 'client_credentials',
          authorization_details: AUTHORIZATION_DETAILS,
        })
      ).access_token,
    );
  return {
    name: 'floor',
    server,
    baseUrl,
    scenarios: [
      {
        id: 'floor.token',
        realistic: true,
        request: {
          ...mint,
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            authorization_details: AUTHORIZATION_DETAILS,
          }).toString(),
        },
      },
      {
        id: 'floor.introspection',
        realistic: true,
        request: {
          ...mint,
          path: '/introspect',
        },
        freshBody: async () => new URLSearchParams({ token: await freshToken() }).toString(),
        okBody: '"active":true',
      },
    ],
  };
}

/** Peer: oidc-provider with client_credentials, JWT access tokens and introspection. */
export async function startPeer(ctx: TargetContext): Promise<Target> {
  const agentSecret = randomBytes(32).toString('base64url');
  const rsSecret = randomBytes(32).toString('base64url');
  const { server, baseUrl } = await startNodeServer(
    'peer',
    ctx,
    '/.well-known/openid-configuration',
    {
      PEER_AGENT_SECRET: agentSecret,
      PEER_RS_SECRET: rsSecret,
      PEER_COOKIE_KEY: randomBytes(32).toString('base64url'),
    },
  );
  const agentAuth = { 'content-type': FORM, authorization: basicAuth('bench-agent', agentSecret) };
  // oidc-provider will not introspect JWTs: the token introspected is an opaque one for a second resource.
  const freshOpaque = async () =>
    String(
      (
        await postForm(
          `${baseUrl}/token`,
          { grant_type: 'client_credentials', resource: 'https://opaque.example.com' },
          agentAuth,
        )
      ).access_token,
    );
  return {
    name: 'peer',
    server,
    baseUrl,
    scenarios: [
      {
        id: 'peer.token',
        realistic: true,
        request: {
          method: 'POST',
          path: '/token',
          headers: agentAuth,
          body: 'grant_type=client_credentials&resource=https%3A%2F%2Fcrm.example.com',
        },
      },
      {
        id: 'peer.introspection',
        realistic: true,
        request: {
          method: 'POST',
          path: '/token/introspection',
          headers: { 'content-type': FORM, authorization: basicAuth('bench-rs', rsSecret) },
        },
        freshBody: async () => new URLSearchParams({ token: await freshOpaque() }).toString(),
        okBody: '"active":true',
      },
    ],
  };
}
