// The one broker fixture: Mandate started in this process on a private prefix of the shared test Redis.
import { afterAll, beforeAll, inject } from 'vitest';
import type { Deps } from '../../src/deps.ts';
import type { Clock } from '../../src/domain/ports.ts';
import { type RunningMandate, startMandate } from '../../src/main.ts';
import {
  ADMIN_TOKEN,
  type Credentials,
  createClient,
  createClients,
  deleteKeysUnder,
  mintToken,
} from './broker.ts';
import type { ClientFixture } from './client-fixture.ts';
import { uniquePrefix } from './prefix.ts';
import { freePort, RedisServer, type RedisServerOptions } from './redis-server.ts';
import { tempConfig } from './temp-config.ts';

// In-process brokers log JSON to this process's stdout; keep test output readable unless asked.
process.env.MANDATE_LOG_LEVEL ??= 'silent';

export interface TestBrokerOptions {
  /** The Redis to use; the private one from global-setup by default. */
  readonly redisUrl?: string;
  /** Key prefix; a fresh `uniquePrefix(name)` by default. Several brokers may share one. */
  readonly prefix?: string;
  /** Names the fresh prefix (default `broker`). */
  readonly name?: string;
  /** YAML text of the config file (default `{}`). */
  readonly config?: string;
  /** Extra env entries (over the defaults: free port on 127.0.0.1, ADMIN_TOKEN, the prefix). */
  readonly env?: Record<string, string>;
  /** The broker's clock (default: the system's). */
  readonly clock?: Clock;
  /** Serve the HTTP API (default true). */
  readonly api?: boolean;
  /** Run the re-evaluation and CAEP workers in this process (default false). */
  readonly worker?: boolean;
  /** Delete every key under the prefix on close (default: when both prefix and Redis are the fixture's own). */
  readonly deleteKeysOnClose?: boolean;
}

export interface TestBroker extends ClientFixture {
  /** Base URL of the API ('' when started without it). */
  readonly url: string;
  readonly issuer: string;
  readonly prefix: string;
  readonly redisUrl: string;
  readonly mandate: RunningMandate;
  readonly deps: Deps;
  /** Stops the broker, removes its config file and (see deleteKeysOnClose) its keys. */
  close(): Promise<void>;
}

/**
 * Starts Mandate in this process (API and/or worker) with `config` as its config file, the
 * admin token ADMIN_TOKEN and a private key prefix, on a free port so the issuer equals the URL.
 */
export async function startTestBroker(opts: TestBrokerOptions = {}): Promise<TestBroker> {
  const redisUrl = opts.redisUrl ?? inject('redisUrl');
  const prefix = opts.prefix ?? uniquePrefix(opts.name ?? 'broker');
  const deleteKeys =
    opts.deleteKeysOnClose ?? (opts.prefix === undefined && opts.redisUrl === undefined);
  const cfg = tempConfig(opts.config ?? '{}\n');
  let mandate: RunningMandate;
  try {
    mandate = await startMandate({
      api: opts.api ?? true,
      worker: opts.worker ?? false,
      handleSignals: false,
      ...(opts.clock ? { clock: opts.clock } : {}),
      env: {
        REDIS_URL: redisUrl,
        MANDATE_PORT: String(await freePort()),
        MANDATE_HOST: '127.0.0.1',
        MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
        MANDATE_WORKER_METRICS_PORT: '0',
        MANDATE_REDIS_PREFIX: prefix,
        MANDATE_CONFIG: cfg.path,
        MANDATE_LOG_LEVEL: process.env.MANDATE_LOG_LEVEL ?? 'silent',
        ...opts.env,
      },
    });
  } catch (err) {
    cfg.remove();
    throw err;
  }
  const url = mandate.url ?? '';
  let closing: Promise<void> | undefined;
  return {
    url,
    issuer: mandate.deps.loaded.issuer,
    prefix,
    redisUrl,
    mandate,
    deps: mandate.deps,
    client: (input) => createClient(url, input),
    clients: (o) => createClients(url, o),
    mint: (agent, details) => mintToken(url, agent, details),
    close: () =>
      (closing ??= (async () => {
        await mandate.close();
        cfg.remove();
        if (deleteKeys) await deleteKeysUnder(redisUrl, prefix);
      })()),
  };
}

/** A broker on a redis-server of its own, with an agent and a resource client (see privateBroker). */
export interface PrivateBroker {
  readonly redis: RedisServer;
  readonly broker: TestBroker;
  readonly agent: Credentials;
  readonly resource: Credentials;
}

export interface PrivateBrokerOptions {
  /** Options of the private redis-server (AOF on by default). */
  readonly redis?: RedisServerOptions;
  /** Runs after the block, before the broker closes (e.g. to undo a fault a test left in Redis). */
  readonly beforeClose?: (s: PrivateBroker) => Promise<void>;
}

/**
 * For the calling describe block, whose tests may crash, pause or starve Redis: starts a private
 * redis-server, a broker on it and two clients (agent, resource) in beforeAll, and fills the
 * returned object then. After the block the broker closes, once Redis answers again if a test
 * left it stopped (its queue closes over it), and the server stops.
 */
export function privateBroker(opts: PrivateBrokerOptions = {}): PrivateBroker {
  const s = {} as { -readonly [K in keyof PrivateBroker]: PrivateBroker[K] };
  beforeAll(async () => {
    s.redis = await RedisServer.start(opts.redis);
    s.broker = await startTestBroker({ redisUrl: s.redis.url });
    ({ agent: s.agent, resource: s.resource } = await createClients(s.broker.url));
  });
  afterAll(async () => {
    if (s.redis && !s.redis.running) await s.redis.restart();
    if (s.redis) await opts.beforeClose?.(s);
    await s.broker?.close();
    await s.redis?.stop();
  });
  return s;
}
