// Real highly available Redis set-ups for tests: a 3-primary/3-replica Cluster and a Sentinel-watched primary with 2 replicas.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findRedisServer } from '../../scripts/find-redis-server.ts';
import { RedisServer } from './redis-server.ts';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
export const SENTINEL_MASTER = 'mandate-test';

export type TopologyKind = 'sentinel' | 'cluster';

export interface RedisTopologyFixture {
  readonly kind: TopologyKind;
  /** The REDIS_URL a broker takes: `redis+sentinel://...` or `redis+cluster://...`. */
  readonly url: string;
  /** Every data server (Cluster: primaries and replicas; Sentinel: primary first, then replicas). */
  readonly servers: readonly RedisServer[];
  /** The sentinels (none for a Cluster). */
  readonly sentinels: readonly RedisServer[];
  /** The data server that is the primary for `key` now (Sentinel: the primary; Cluster: its slot's). */
  primaryOf(key: string): Promise<RedisServer>;
  /** Stops every process and removes its files. */
  stop(): Promise<void>;
}

/** redis-cli beside redis-server (both come in Debian's redis-tools / redis-server packages). */
function redisCli(): string {
  const server = findRedisServer();
  if (!server)
    throw new Error(
      'redis-server is not installed; install it with apt-get install -y redis-server',
    );
  return join(dirname(server), 'redis-cli');
}

/** Polls `check` until it holds; throws naming `what` after READY_TIMEOUT_MS. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(
    `${what} not ready within ${READY_TIMEOUT_MS} ms${last ? `: ${String(last)}` : ''}`,
  );
}

/** Runs `fn` with a short-lived plain connection to one server. */
async function onServer<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/**
 * True once the server is a primary whose replicas have all finished their first sync (state=online):
 * a replica still waiting for the primary's snapshot acknowledges no write, so WAIT would answer 0.
 */
async function replicasOnline(port: number, expected: number): Promise<boolean> {
  return onServer(port, async (r) => {
    const info = await r.info('replication');
    const states = [...info.matchAll(/^slave\d+:.*state=([a-z_]+)/gm)].map((m) => m[1]);
    return states.length === expected && states.every((state) => state === 'online');
  });
}

async function stopAll(servers: readonly RedisServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}

/**
 * Six cluster-enabled servers joined by `redis-cli --cluster create --cluster-replicas 1`: three
 * primaries with a replica each; resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(): Promise<RedisTopologyFixture> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < 6; i++)
      servers.push(
        await RedisServer.start({
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-node-timeout',
            '2000',
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      );
    await run(
      redisCli(),
      [
        '--cluster',
        'create',
        ...servers.map((s) => `${HOST}:${s.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: READY_TIMEOUT_MS },
    );
    for (const s of servers)
      await until(`cluster node ${s.port}`, () =>
        onServer(s.port, async (r) => {
          const info = String(await r.call('CLUSTER', 'INFO'));
          return info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:6');
        }),
      );
    for (const s of servers) {
      const primary = await onServer(s.port, async (r) =>
        (await r.info('replication')).includes('role:master'),
      );
      if (primary) await until(`replica of ${s.port} in sync`, () => replicasOnline(s.port, 1));
    }
  } catch (err) {
    await stopAll(servers);
    throw err;
  }
  return {
    kind: 'cluster',
    url: `redis+cluster://${servers
      .slice(0, 3)
      .map((s) => `${HOST}:${s.port}`)
      .join(',')}`,
    servers,
    sentinels: [],
    primaryOf: async (key) => {
      const live = servers.find((s) => s.running);
      if (!live) throw new Error('no cluster node running');
      const port = await onServer(live.port, async (r) => {
        const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
        const ranges = (await r.call('CLUSTER', 'SLOTS')) as Array<
          [number, number, [string, number]]
        >;
        return ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
      });
      const primary = servers.find((s) => s.port === port);
      if (!primary) throw new Error(`no node serves ${key}`);
      return primary;
    },
    stop: () => stopAll(servers),
  };
}

/**
 * A primary, two replicas (`--replicaof`) and three sentinels (quorum 2) watching it; resolves
 * once every sentinel knows both replicas and the other two sentinels.
 */
export async function startRedisSentinel(): Promise<RedisTopologyFixture> {
  const servers: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  try {
    const primary = await RedisServer.start({ extraArgs: ['--repl-diskless-sync-delay', '0'] });
    servers.push(primary);
    for (let i = 0; i < 2; i++)
      servers.push(
        await RedisServer.start({
          extraArgs: ['--replicaof', HOST, String(primary.port), '--repl-diskless-sync-delay', '0'],
        }),
      );
    await until('replication', () => replicasOnline(primary.port, 2));
    const watch = {
      masterName: SENTINEL_MASTER,
      primaryPort: primary.port,
      quorum: 2,
      downAfterMs: 2000,
    };
    for (let i = 0; i < 3; i++) sentinels.push(await RedisServer.start({ sentinel: watch }));
    for (const s of sentinels)
      await until(`sentinel ${s.port}`, () =>
        onServer(s.port, async (r) => {
          const replicas = (await r.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER)) as unknown[];
          const peers = (await r.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER)) as unknown[];
          return replicas.length === 2 && peers.length === 2;
        }),
      );
  } catch (err) {
    await stopAll([...sentinels, ...servers]);
    throw err;
  }
  return {
    kind: 'sentinel',
    url: `redis+sentinel://${sentinels.map((s) => `${HOST}:${s.port}`).join(',')}/${SENTINEL_MASTER}`,
    servers,
    sentinels,
    primaryOf: async () => {
      const live = sentinels.find((s) => s.running);
      if (!live) throw new Error('no sentinel running');
      const [, port] = await onServer(
        live.port,
        async (r) =>
          (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as [
            string,
            string,
          ],
      );
      const primary = servers.find((s) => s.port === Number(port));
      if (!primary) throw new Error(`the sentinels name no known primary (${port})`);
      return primary;
    },
    stop: () => stopAll([...sentinels, ...servers]),
  };
}

/** The set-up of `kind`. */
export function startRedisTopology(kind: TopologyKind): Promise<RedisTopologyFixture> {
  return kind === 'cluster' ? startRedisCluster() : startRedisSentinel();
}
