// Invalidation events between broker processes over Redis pub/sub.

import type { BusEvent, EventBus } from '../domain/event-bus.ts';
import type { RedisClient } from './redis-connection.ts';

export type { BusEvent, EventBus } from '../domain/event-bus.ts';

/**
 * `publisher` is a request-path client; `subscriber` a dedicated connection (a subscribed
 * connection can do nothing else). Handlers see their own process's events too.
 */
export function createRedisEventBus(
  publisher: RedisClient,
  subscriber: RedisClient,
  channel: string,
): EventBus {
  const handlers: Array<(event: BusEvent) => void> = [];
  let subscribed = false;
  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let event: BusEvent;
    try {
      event = JSON.parse(message) as BusEvent;
    } catch {
      return;
    }
    for (const h of handlers) h(event);
  });
  return {
    async publish(event) {
      await publisher.publish(channel, JSON.stringify(event));
    },
    subscribe(handler) {
      handlers.push(handler);
      if (subscribed) return;
      subscribed = true;
      // The subscriber waits for Redis (offline queue) and ioredis subscribes again after a reconnect.
      subscriber.subscribe(channel).catch(() => {
        subscribed = false;
      });
    },
    async close() {
      subscriber.disconnect();
    },
  };
}
