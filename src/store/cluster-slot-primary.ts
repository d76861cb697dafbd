// Where the grant world's primary is on Redis Cluster: the node owning its one slot, as the Cluster client's slot map says.
import type { Cluster } from 'ioredis';
import { isCluster, type RedisClient } from './redis-connection.ts';
import type { PrimaryLocator } from './redis-replica-acks.ts';

/**
 * The primary of the slot `key` hashes to (the grant world's: every key under its prefix, see
 * clusterPrefix), named `host:port` as the Cluster client's slot map names it. That map is what
 * the writes are routed by, and ioredis updates it on a MOVED and on each refresh, so the name
 * changes when a failover reaches the writers (each writer's own map names where its write went:
 * the worker's Cluster client is another than the request path's). `open(name, node)` makes a plain connection to
 * one node: a command sent there never follows a redirection (a MOVED is an error).
 */
export function clusterSlotPrimary(
  cluster: Cluster,
  key: string,
  open: (name: string, node: string) => RedisClient,
): PrimaryLocator {
  let slot = -1;
  const nameOf = (r: { options: { host?: string; port?: number } }) =>
    `${r.options.host}:${r.options.port}`;
  return {
    async start() {
      slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
      // The slot map arrives once the client is ready; read it now rather than wait for a write.
      if (cluster.slots[slot] === undefined)
        await new Promise<void>((done, fail) =>
          cluster.refreshSlotsCache((err) => (err ? fail(err) : done())),
        );
    },
    current(writer) {
      const map = writer && isCluster(writer) ? writer : cluster;
      return slot < 0 ? '' : (map.slots[slot]?.[0] ?? '');
    },
    open,
    probe(node) {
      const primary = cluster.nodes('master').find((r) => nameOf(r) === node);
      if (!primary) throw new Error(`Redis Cluster: no connection to the primary ${node}`);
      return primary;
    },
    recheck: () => cluster.refreshSlotsCache(),
    watch: (looked) => cluster.on('refresh', looked),
  };
}
