// CAEP delivery, producer side: one BullMQ queue per receiver, one job per (receiver, event) on its audience; caep-worker.ts signs and pushes them.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { AgentTask } from '../domain/intent.ts';
import type { Clock, GrantNotifier } from '../domain/ports.ts';
import type { CaepEventKind, Receiver, ReceiverStore } from '../domain/receiver.ts';
import {
  audiencesOf,
  eventForAudience,
  type GrantEvent,
  initiatingEntityOf,
  type NotifiedGrant,
} from '../domain/security-event.ts';
import type { Logger } from '../services/broker.ts';
import type { QueueConnection } from './queue-connection.ts';
import { waitAtMost } from './wait-at-most.ts';

/** What happened to one event for one receiver, counted in `mandate_caep_events_total`. */
export type CaepOutcome =
  | 'queued'
  | 'dropped_backlog'
  | 'delivered'
  | 'refused'
  | 'target_refused'
  | 'gave_up'
  | 'skipped';

export interface CaepMetrics {
  caepEvent(receiverId: string, outcome: CaepOutcome): void;
}

export interface CaepQueueOptions {
  readonly connection: QueueConnection;
  readonly prefix: string;
  /** The BullMQ queue of one receiver (KeyNames.caepReceiverQueue). */
  readonly queueName: (receiverId: string) => string;
  readonly metrics?: CaepMetrics | undefined;
}

/** Ids and unsigned event fields only: the receiver's URL and bearer token are read at delivery. */
export interface CaepJobData {
  readonly receiver_id: string;
  /** The audience the event was cut down for; a receiver registered again with another one gets nothing of it. */
  readonly audience: string;
  /** The event as this receiver may see it (eventForAudience). */
  readonly event: GrantEvent;
  /** Fixed at enqueue so every retry carries the same SET identity (receivers dedupe on jti). */
  readonly jti: string;
  readonly iat: number;
  /** The same for every receiver told of one change. */
  readonly txn: string;
}

/** 500 ms, 1 s, 2 s ... : eight attempts span about a minute. */
export const CAEP_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: 1000,
  removeOnFail: 5000,
} as const;

/** Longest a notifier call may hold up the request that revoked or narrowed a grant. */
const ENQUEUE_WAIT_MS = 1000;

/** Job states that count as a receiver's backlog (not yet delivered, not given up). */
const BACKLOG_STATES = ['wait', 'delayed', 'prioritized'] as const;

export interface CaepNotifierOptions extends CaepQueueOptions {
  readonly receivers: ReceiverStore;
  readonly log: Logger;
  readonly clock: Clock;
  /** Events one receiver may have waiting; new events beyond it are dropped (logged and counted). */
  readonly maxBacklog?: number | undefined;
}

/**
 * The GrantNotifier the API uses: it reads the receivers and queues one delivery job in the queue
 * of each receiver that wants the event and whose audience the grant reached (before or after a
 * narrowing), the event cut down to that audience. It never throws into the caller (the
 * revocation itself has already happened): failures are logged, and an enqueue stalled by a
 * Redis hiccup is left to finish in the background after {@link ENQUEUE_WAIT_MS}.
 */
export function createCaepNotifier(
  opts: CaepNotifierOptions,
): GrantNotifier & { close(): Promise<void> } {
  const maxBacklog = opts.maxBacklog ?? 10_000;
  const queues = new Map<string, Queue<CaepJobData>>();
  const queueOf = (receiverId: string) => {
    let queue = queues.get(receiverId);
    if (!queue) {
      queue = new Queue<CaepJobData>(opts.queueName(receiverId), {
        connection: opts.connection,
        prefix: opts.prefix,
      });
      queue.on('error', (err) =>
        opts.log.warn({ err: err.message, receiver: receiverId }, 'caep queue error'),
      );
      queues.set(receiverId, queue);
    }
    return queue;
  };

  const enqueueFor = async (
    receiver: Receiver,
    data: Omit<CaepJobData, 'receiver_id' | 'audience' | 'jti'>,
  ) => {
    const queue = queueOf(receiver.id);
    // A dead receiver's backlog stops growing here; the others' queues are untouched by it.
    if ((await queue.getJobCountByTypes(...BACKLOG_STATES)) >= maxBacklog) {
      opts.metrics?.caepEvent(receiver.id, 'dropped_backlog');
      opts.log.error(
        {
          receiver: receiver.id,
          event: data.event.kind,
          grant_id: data.event.grant.id,
          max_backlog: maxBacklog,
        },
        'caep backlog full; event dropped',
      );
      return;
    }
    const jti = randomUUID();
    await queue.add(
      data.event.kind,
      { ...data, receiver_id: receiver.id, audience: receiver.audience, jti },
      { ...CAEP_JOB_OPTIONS, jobId: jti },
    );
    opts.metrics?.caepEvent(receiver.id, 'queued');
  };

  const enqueue = async (
    kind: CaepEventKind,
    grant: NotifiedGrant,
    reason: string,
    granted?: AgentTask[],
  ) => {
    const nowSec = Math.floor(opts.clock.nowMs() / 1000);
    const full: GrantEvent = {
      kind,
      grant: { id: grant.id, client_id: grant.client_id, task_id: grant.task_id },
      reason,
      event_timestamp: nowSec,
      initiating_entity: initiatingEntityOf(reason),
      ...(granted !== undefined ? { granted } : {}),
    };
    const audiences = audiencesOf(grant, granted);
    const txn = randomUUID();
    const work = (async () => {
      const listed = await opts.receivers.list();
      forgetQueues(new Set(listed.map((r) => r.id)));
      const results = await Promise.allSettled(
        listed
          .filter((r) => r.events.includes(kind))
          .flatMap((r) => {
            const event = eventForAudience(full, audiences, r.audience);
            return event ? [enqueueFor(r, { event, iat: nowSec, txn })] : [];
          }),
      );
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    })().catch((err: unknown) => {
      opts.log.error(
        { err: errorMessage(err), grant_id: grant.id, event: kind },
        'caep event not queued',
      );
    });
    await waitAtMost(work, ENQUEUE_WAIT_MS, () =>
      opts.log.warn(
        { grant_id: grant.id, event: kind },
        'caep enqueue slow; continuing in the background',
      ),
    );
  };

  /** Closes the queues of receivers no longer registered, so the map stays as small as the registry. */
  const forgetQueues = (ids: ReadonlySet<string>) => {
    for (const [id, queue] of queues) {
      if (ids.has(id)) continue;
      queues.delete(id);
      void queue.close().catch(() => undefined);
    }
  };

  return {
    revoked: (grant, reason) => enqueue('session-revoked', grant, reason),
    narrowed: (grant, granted, reason) => enqueue('token-claims-change', grant, reason, granted),
    close: async () => {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}

/** An error's message with its cause, for the log. */
export const errorMessage = (err: unknown) =>
  err instanceof Error
    ? err.cause instanceof Error
      ? `${err.message}: ${err.cause.message}`
      : err.message
    : String(err);
