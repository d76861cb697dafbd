// The fast HTTP fixture: the Hono app from createApp with real deps on a private Redis prefix, driven
// through app.request() with no listening socket.
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps, type Deps, httpDepsOf } from '../../src/deps.ts';
import type { Clock } from '../../src/domain/ports.ts';
import { createApp } from '../../src/http/app.ts';
import {
  ADMIN_TOKEN,
  basicAuth,
  CRM,
  type Credentials,
  deleteKeysUnder,
  type HttpResult,
  type TokenBody,
  toResult,
} from './broker.ts';
import type { ClientFixture } from './client-fixture.ts';
import { uniquePrefix } from './prefix.ts';
import { tempConfig } from './temp-config.ts';

// Deps built here log JSON to this process's stdout; keep test output readable unless asked.
process.env.MANDATE_LOG_LEVEL ??= 'silent';

/** The issuer of every test app: requests go to this origin, tokens name it as `iss`. */
export const TEST_APP_ISSUER = 'http://mandate.test';

export interface TestAppOptions {
  /** YAML text of the config file (default `{}`). */
  readonly config?: string;
  /** Names the fresh key prefix (default `http`). */
  readonly name?: string;
  /** The clock every decision reads (default: the system's). */
  readonly clock?: Clock;
  /** The issuer, and the origin requests go to (default TEST_APP_ISSUER). */
  readonly issuer?: string;
}

export interface TestApp extends ClientFixture {
  readonly deps: Deps;
  readonly prefix: string;
  readonly issuer: string;
  /** One request through app.request(); the body parsed as JSON when it is JSON. */
  request<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<HttpResult<T>>;
  /** A form POST to an OAuth endpoint; `auth` picks Basic (default), body credentials, or none. */
  form<T = Record<string, unknown>>(
    path: string,
    params: Record<string, string> | URLSearchParams,
    creds?: Credentials,
    auth?: 'basic' | 'post' | 'none',
    extraHeaders?: Record<string, string>,
  ): Promise<HttpResult<T>>;
  /** A JSON POST; `auth` is the Authorization header (none when undefined). */
  json<T = Record<string, unknown>>(
    path: string,
    body: unknown,
    auth?: string,
  ): Promise<HttpResult<T>>;
  /** A call to the admin API with the admin bearer token (or `token`). */
  admin<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<HttpResult<T>>;
  /** Closes the deps and deletes every key under the prefix. */
  close(): Promise<void>;
}

/**
 * Builds the app as `mandate serve` does (same config loading, deps and HTTP deps) on a fresh
 * prefix of the shared test Redis, with the admin token ADMIN_TOKEN; nothing listens.
 */
export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix(opts.name ?? 'http');
  const cfg = tempConfig(opts.config ?? '{}\n');
  const loaded = loadConfig({
    REDIS_URL: redisUrl,
    MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
    MANDATE_REDIS_PREFIX: prefix,
    MANDATE_CONFIG: cfg.path,
    MANDATE_ISSUER: opts.issuer ?? TEST_APP_ISSUER,
    MANDATE_LOG_LEVEL: 'silent',
  });
  const deps = createDeps(loaded, opts.clock ? { clock: opts.clock } : {});
  try {
    await deps.start();
    await deps.bootstrapAdminToken();
  } catch (err) {
    await deps.close().catch(() => undefined);
    cfg.remove();
    throw err;
  }
  // The deps src/main.ts gives the app, less the socket: no peer address here.
  const app = createApp(httpDepsOf(deps, () => undefined));

  const request = async <T>(path: string, init?: RequestInit) =>
    toResult<T>(await app.request(`${opts.issuer ?? TEST_APP_ISSUER}${path}`, init));
  const form = <T>(
    path: string,
    params: Record<string, string> | URLSearchParams,
    creds?: Credentials,
    auth: 'basic' | 'post' | 'none' = 'basic',
    extraHeaders: Record<string, string> = {},
  ) => {
    const body = new URLSearchParams(params);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      ...extraHeaders,
    };
    if (creds && auth === 'basic') headers.authorization = basicAuth(creds);
    if (creds && auth === 'post') {
      body.set('client_id', creds.client_id);
      body.set('client_secret', creds.client_secret);
    }
    return request<T>(path, { method: 'POST', headers, body: body.toString() });
  };
  const json = <T>(path: string, body: unknown, auth?: string) =>
    request<T>(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: JSON.stringify(body),
    });
  const admin = <T>(method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
    request<T>(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const client = async (input: Record<string, unknown>): Promise<Credentials> => {
    const res = await admin<{ client: { client_id: string }; client_secret: string }>(
      'POST',
      '/admin/clients',
      input,
    );
    if (res.status !== 201) throw new Error(`client creation failed: ${res.status} ${res.text}`);
    return { client_id: res.body.client.client_id, client_secret: res.body.client_secret };
  };
  let closing: Promise<void> | undefined;
  return {
    deps,
    prefix,
    issuer: loaded.issuer,
    request,
    form,
    json,
    admin,
    client,
    async clients(o = {}) {
      const agent = await client({
        name: 'test agent',
        kind: 'agent',
        groups: o.groups ?? ['writers'],
      });
      const resource = await client({
        name: 'test resource',
        kind: 'resource',
        resources: o.resources ?? [CRM],
      });
      return { agent, resource };
    },
    async mint(agent, details) {
      const res = await form<TokenBody>(
        '/oauth/token',
        { grant_type: 'client_credentials', authorization_details: JSON.stringify(details) },
        agent,
      );
      if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
      return res.body;
    },
    close: () =>
      (closing ??= (async () => {
        await deps.close();
        cfg.remove();
        await deleteKeysUnder(redisUrl, prefix);
      })()),
  };
}
