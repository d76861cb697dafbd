// The connection BullMQ queues and workers take: a single server's (or Sentinel-watched primary's) client, or a Cluster client.
import type { Cluster, Redis } from 'ioredis';

export type QueueConnection = Redis | Cluster;

/** A new connection like `connection` (a BullMQ worker blocks its own), of the same kind. */
export function duplicateConnection(connection: QueueConnection): QueueConnection {
  // The two classes' duplicate() take different overrides, so TypeScript cannot call the union's.
  return (connection as { duplicate(): QueueConnection }).duplicate();
}
