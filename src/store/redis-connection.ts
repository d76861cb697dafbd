// Redis connections of the configured topology (one server, Sentinel, Cluster): fail-fast clients for the request path, patient ones for workers.
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTopology } from '../config/redis-topology.ts';
import { StoreUnavailable } from '../domain/errors.ts';

/**
 * What every store takes: a single server's (or Sentinel-watched primary's) client, or a Cluster
 * client. Both run the same commands, scripts and pipelines; on Cluster a script's or a
 * pipeline's keys must share one slot, which the key layout guarantees (see key-names.ts).
 */
export type RedisClient = Redis | Cluster;

export interface ConnectionOptions {
  readonly topology: RedisTopology;
  readonly commandTimeoutMs: number;
}

/** True when the client talks to a Redis Cluster. */
export const isCluster = (redis: RedisClient): redis is Cluster => redis instanceof Cluster;

/**
 * A client of `topology` with `options`: a URL for one server, `sentinels` + `name` for a
 * Sentinel-watched primary (ioredis asks the sentinels for the primary on every (re)connect), a
 * Cluster client seeded with the nodes. `retry` is the reconnect delay after `times` failures.
 */
function connect(
  topology: RedisTopology,
  options: RedisOptions,
  retry: (times: number) => number,
  cluster: Omit<ClusterOptions, 'redisOptions'> = {},
): RedisClient {
  if (topology.kind === 'single')
    return new Redis(topology.url, { ...options, retryStrategy: retry });
  const credentials = {
    ...(topology.username ? { username: topology.username } : {}),
    ...(topology.password ? { password: topology.password } : {}),
  };
  if (topology.kind === 'sentinel')
    return new Redis({
      ...options,
      ...credentials,
      sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
      name: topology.masterName,
      db: topology.db,
      retryStrategy: retry,
      sentinelRetryStrategy: retry,
    });
  const { lazyConnect, enableOfflineQueue, enableAutoPipelining, ...nodeOptions } = options;
  return new Cluster(
    topology.nodes.map(({ host, port }) => ({ host, port })),
    {
      ...cluster,
      redisOptions: { ...nodeOptions, ...credentials },
      clusterRetryStrategy: retry,
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
    },
  );
}

/** What every request-path connection is: fail-fast, with a bounded command timeout. */
const failFast = (name: string, commandTimeoutMs: number): RedisOptions => ({
  connectionName: name,
  enableOfflineQueue: false,
  commandTimeout: commandTimeoutMs,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  lazyConnect: true,
});

/** The reconnect delay of request-path connections after `times` failures. */
const requestRetry = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 1000);

/**
 * A request-path client: no offline queue and a bounded command timeout, so a Redis outage
 * turns into an immediate error (and a fail-closed answer), never a hung request. On Cluster a
 * MOVED or failover redirection is followed briefly (bounded by the command timeout), never queued.
 */
export function createRequestClient(opts: ConnectionOptions, name: string): RedisClient {
  return connect(
    opts.topology,
    {
      ...failFast(name, opts.commandTimeoutMs),
      // Commands issued in one pass of the event loop leave in one write (measured side by side with
      // holding the socket's writes to the turn's end: within 10%, see docs/performance.md). On
      // Cluster ioredis keeps one such pipeline per node.
      enableAutoPipelining: true,
    },
    requestRetry,
    {
      retryDelayOnFailover: 50,
      retryDelayOnTryAgain: 50,
      maxRedirections: 4,
      // Scripts go out as EVALSHA, which ioredis routes by its first key (not its first
      // argument): the decision log's append and the grant it lets in share a node's pipeline,
      // in the order they were issued.
    },
  );
}

/**
 * A request-path client to one node of a Cluster (`host:port`, as the Cluster client's slot map
 * names it), outside the Cluster client: its commands go to that node only, so a MOVED is an
 * error, never a redirection. Credentials are the topology's.
 */
export function createNodeRequestClient(
  opts: ConnectionOptions & { readonly topology: Extract<RedisTopology, { kind: 'cluster' }> },
  node: string,
  name: string,
): Redis {
  const colon = node.lastIndexOf(':');
  const { username, password } = opts.topology;
  return new Redis({
    host: node.slice(0, colon).replace(/^\[|\]$/g, ''),
    port: Number(node.slice(colon + 1)),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...failFast(name, opts.commandTimeoutMs),
    retryStrategy: requestRetry,
  });
}

/** A worker or subscriber client: waits for Redis rather than failing (BullMQ requires this). */
export function createWorkerClient(opts: ConnectionOptions, name: string): RedisClient {
  return connect(
    opts.topology,
    { connectionName: name, maxRetriesPerRequest: null, lazyConnect: true },
    (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  );
}

/** Runs a store call, turning any Redis failure into StoreUnavailable. */
export async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof StoreUnavailable) throw err;
    throw new StoreUnavailable(err);
  }
}

/** Redis settings the guarantees depend on, read at start. */
export interface RedisSettings {
  readonly appendonly: boolean;
  readonly appendfsync: string;
  readonly maxmemoryPolicy: string;
  readonly version: string;
}

/**
 * The settings of every server that holds data: the one server or primary, or each Cluster
 * primary, reduced to the weakest (AOF off anywhere is off; a policy other than `noeviction`
 * anywhere is reported; the lowest version).
 */
export async function readRedisSettings(redis: RedisClient): Promise<RedisSettings> {
  const servers = isCluster(redis) ? redis.nodes('master') : [redis];
  if (servers.length === 0) throw new Error('Redis Cluster: no primary known');
  const all = await Promise.all(servers.map(readServerSettings));
  const major = (s: RedisSettings) => Number(s.version.split('.')[0]) || 0;
  return all.reduce((a, b) => ({
    appendonly: a.appendonly && b.appendonly,
    appendfsync:
      a.appendfsync === b.appendfsync ? a.appendfsync : `${a.appendfsync},${b.appendfsync}`,
    maxmemoryPolicy: a.maxmemoryPolicy !== 'noeviction' ? a.maxmemoryPolicy : b.maxmemoryPolicy,
    version: major(a) <= major(b) ? a.version : b.version,
  }));
}

async function readServerSettings(redis: Redis): Promise<RedisSettings> {
  const get = async (name: string) => {
    const reply = (await redis.call('CONFIG', 'GET', name)) as string[];
    return reply[1] ?? '';
  };
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  return {
    appendonly: (await get('appendonly')) === 'yes',
    appendfsync: await get('appendfsync'),
    maxmemoryPolicy: await get('maxmemory-policy'),
    version,
  };
}
