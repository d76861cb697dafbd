// HTTP helpers for tests against a running broker: admin calls, client registration, OAuth posts, key scans.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const CRM = 'https://crm.example.com';

export interface HttpResult<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

/** Reads a Response whole: status, headers, text, and the body parsed as JSON when it is JSON. */
export async function toResult<T>(res: Response): Promise<HttpResult<T>> {
  const text = await res.text();
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** A call to the admin API with the bootstrap bearer token (JSON in and out). */
export async function admin<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return toResult<T>(res);
}

export interface Credentials {
  readonly client_id: string;
  readonly client_secret: string;
}

/** Registers a client through the admin API and returns its one-time credentials. */
export async function createClient(
  base: string,
  input: Record<string, unknown>,
): Promise<Credentials> {
  const res = await admin<{ client: { client_id: string }; client_secret: string }>(
    base,
    'POST',
    '/admin/clients',
    input,
  );
  if (res.status !== 201) throw new Error(`client creation failed: ${res.status} ${res.text}`);
  return { client_id: res.body.client.client_id, client_secret: res.body.client_secret };
}

/** An agent (groups as given) and a resource client serving `resources` (default the CRM). */
export async function createClients(
  base: string,
  opts: { groups?: string[]; resources?: string[] } = {},
): Promise<{ agent: Credentials; resource: Credentials }> {
  const agent = await createClient(base, {
    name: 'test agent',
    kind: 'agent',
    groups: opts.groups ?? ['writers'],
  });
  const resource = await createClient(base, {
    name: 'test resource',
    kind: 'resource',
    resources: opts.resources ?? [CRM],
  });
  return { agent, resource };
}

/** One `agent_task` entry. */
export function task(
  actions: string[],
  opts: { taskId?: string; locations?: string[]; ttl?: number } = {},
) {
  return {
    type: 'agent_task',
    task_id: opts.taskId ?? `T-${Math.random().toString(36).slice(2, 10)}`,
    purpose: 'integration test',
    actions,
    locations: opts.locations ?? [CRM],
    ...(opts.ttl ? { ttl: opts.ttl } : {}),
  };
}

export function basicAuth(c: Credentials): string {
  const enc = (v: string) => encodeURIComponent(v);
  return `Basic ${Buffer.from(`${enc(c.client_id)}:${enc(c.client_secret)}`).toString('base64')}`;
}

/** A form POST to an OAuth endpoint; `auth` picks Basic (default), body credentials, or none. */
export async function oauthPost(
  base: string,
  path: string,
  params: Record<string, string> | URLSearchParams | string,
  creds?: Credentials,
  auth: 'basic' | 'post' | 'none' = 'basic',
  extraHeaders: Record<string, string> = {},
): Promise<HttpResult> {
  const form =
    typeof params === 'string' ? new URLSearchParams(params) : new URLSearchParams(params);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    ...extraHeaders,
  };
  if (creds && auth === 'basic') headers.authorization = basicAuth(creds);
  if (creds && auth === 'post') {
    form.set('client_id', creds.client_id);
    form.set('client_secret', creds.client_secret);
  }
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: form.toString() });
  return toResult(res);
}

export interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  grant_id: string;
  scope: string;
  authorization_details: Array<
    Record<string, unknown> & { actions: string[]; locations: string[] }
  >;
  error?: string;
}

/** client_credentials with the given authorization_details; returns the raw result. */
export function requestToken(
  base: string,
  agent: Credentials,
  details: unknown[],
  extra: Record<string, string> = {},
) {
  return oauthPost(
    base,
    '/oauth/token',
    { grant_type: 'client_credentials', authorization_details: JSON.stringify(details), ...extra },
    agent,
  ) as Promise<HttpResult<TokenBody & Record<string, unknown>>>;
}

/** Like requestToken but throws unless 200. */
export async function mintToken(
  base: string,
  agent: Credentials,
  details: unknown[],
): Promise<TokenBody> {
  const res = await requestToken(base, agent, details);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.body;
}

export function refresh(base: string, agent: Credentials, refreshToken: string) {
  return oauthPost(
    base,
    '/oauth/token',
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    agent,
  ) as Promise<HttpResult<TokenBody & Record<string, unknown>>>;
}

/** RFC 7662 introspection as a resource client; returns the raw result. */
export function introspect(base: string, resource: Credentials, token: string) {
  return oauthPost(base, '/oauth/introspect', { token }, resource) as Promise<
    HttpResult<{ active: boolean } & Record<string, unknown>>
  >;
}

/** True only when the broker answered 200 with `active: true`. */
export async function isActive(
  base: string,
  resource: Credentials,
  token: string,
): Promise<boolean> {
  const res = await introspect(base, resource, token);
  if (res.status !== 200) throw new Error(`introspection failed: ${res.status} ${res.text}`);
  return res.body.active === true;
}

/** Every key under `prefix` (SCAN, never KEYS), with a short-lived connection. */
export async function keysUnder(redisUrl: string, prefix: string): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(
        cursor,
        'MATCH',
        `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`,
        'COUNT',
        1000,
      );
      cursor = next;
      out.push(...batch);
    } while (cursor !== '0');
    return out.sort();
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix` (only ever a test's own unique prefix). */
export async function deleteKeysUnder(redisUrl: string, prefix: string): Promise<void> {
  if (!prefix.startsWith('t:'))
    throw new Error(`refusing to delete keys under a non-test prefix ${prefix}`);
  const keys = await keysUnder(redisUrl, prefix);
  if (!keys.length) return;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  try {
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
