// Composition of acknowledged writes: the connections that wait for Redis replicas, as config `redis` asks.

import type { RedisTopology } from './config/redis-topology.ts';
import type { Config } from './config/schema.ts';
import type { AppLogger } from './observability/logger.ts';
import type { Metrics } from './observability/metrics.ts';
import { clusterSlotPrimary } from './store/cluster-slot-primary.ts';
import type { KeyNames } from './store/key-names.ts';
import {
  createNodeRequestClient,
  createRequestClient,
  isCluster,
  type RedisClient,
} from './store/redis-connection.ts';
import {
  createReplicaAcks,
  onePrimary,
  type ReplicaAcks,
  unconfirmedWrites,
} from './store/redis-replica-acks.ts';

/** How often INFO replication is read, to notice a replica that appears. */
const WATCH_EVERY_MS = 2000;

/**
 * The process's ReplicaAcks: none at all (no connection) when `redis.min_replicas_ack` is 0;
 * otherwise a pool of `replica_ack_connections` fail-fast connections whose command timeout
 * leaves room for the WAIT, and INFO read on `probe` (the request client; on Cluster, its
 * connection to the grant world's primary, whose slot map also says where that primary is).
 */
export function createReplicaAcksFor(
  config: Config,
  topology: RedisTopology,
  probe: RedisClient,
  keys: KeyNames,
  log: AppLogger,
  metrics: Pick<Metrics, 'replicaAcks'>,
): ReplicaAcks {
  const r = config.redis;
  if (r.min_replicas_ack === 0) return unconfirmedWrites;
  // Room for the WAIT in each confirmation's command timeout.
  const connection = {
    topology,
    commandTimeoutMs: r.command_timeout_ms + r.replica_ack_timeout_ms,
  };
  const logged = <C extends RedisClient>(client: C): C => {
    client.on('error', (err: Error) =>
      log.warn({ err: err.message }, 'redis connection error (replica acks)'),
    );
    return client;
  };
  // On Cluster the confirmations go to the primary of the grant world's slot (the marker is one of
  // its keys) on plain connections, re-pointed when that slot's owner changes.
  const where =
    topology.kind === 'cluster' && isCluster(probe)
      ? clusterSlotPrimary(probe, keys.replicaAckMarker, (name, node) =>
          logged(createNodeRequestClient({ ...connection, topology }, node, name)),
        )
      : onePrimary((name) => logged(createRequestClient(connection, name)), probe);
  return createReplicaAcks(where, {
    minReplicas: r.min_replicas_ack,
    timeoutMs: r.replica_ack_timeout_ms,
    connections: r.replica_ack_connections,
    markerKey: keys.replicaAckMarker,
    watchEveryMs: WATCH_EVERY_MS,
    warn: (fields, message) => log.warn(fields, message),
    counted: (outcome, writes) => metrics.replicaAcks(outcome, writes),
  });
}
