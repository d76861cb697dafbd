// CAEP delivery: one BullMQ queue per receiver, one job per (receiver, event) on its audience, signed as a SET and pushed per RFC 8935, with retries.
import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AgentTask } from '../domain/intent.ts';
import type { Clock, GrantNotifier } from '../domain/ports.ts';
import type { CaepEventKind, Receiver, ReceiverStore } from '../domain/receiver.ts';
import { type ReceiverTargetPolicy, STRICT_RECEIVER_TARGETS } from '../domain/receiver-target.ts';
import {
  audiencesOf,
  eventForAudience,
  type GrantEvent,
  initiatingEntityOf,
  type NotifiedGrant,
  type SecurityEventSigner,
  securityEventPayload,
} from '../domain/security-event.ts';
import type { Logger } from '../services/broker.ts';
import { pushSecurityEvent, type ResolveAll, TargetRefused } from './push-security-event.ts';

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
  readonly connection: Redis;
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
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((ok) => {
      timer = setTimeout(() => {
        opts.log.warn(
          { grant_id: grant.id, event: kind },
          'caep enqueue slow; continuing in the background',
        );
        ok();
      }, ENQUEUE_WAIT_MS);
      timer.unref();
    });
    await Promise.race([work, waited]);
    clearTimeout(timer);
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

export interface CaepWorkerOptions extends CaepQueueOptions {
  readonly receivers: ReceiverStore;
  readonly signer: SecurityEventSigner;
  readonly issuer: string;
  readonly log: Logger;
  /** Pushes in flight at once to one receiver (default 4). */
  readonly concurrencyPerReceiver?: number | undefined;
  /** Per-push timeout; a timeout is retried like any transient failure. */
  readonly timeoutMs?: number | undefined;
  /** Where receivers may be: checked on the URL and on every resolved address at each push. */
  readonly targets?: ReceiverTargetPolicy | undefined;
  /** How often the registry is re-read to start and stop receivers' workers (default 1 s). */
  readonly refreshMs?: number | undefined;
  /** Name resolution for pushes (the system resolver by default). */
  readonly resolve?: ResolveAll | undefined;
}

/**
 * Starts the delivery workers: one BullMQ worker per registered receiver, each on that
 * receiver's queue with its own concurrency, retries and per-push timeout, so a receiver that
 * hangs holds up only its own events. The registry is re-read every `refreshMs` to start workers
 * for new receivers and stop (and empty the queue of) deleted ones.
 *
 * Each job signs its SET and POSTs it (RFC 8935 2.2) to an address checked at that moment: 202
 * (any 2xx) is delivered; 400 is the receiver refusing this SET for good (`{"err": ...}`), so it
 * is not retried; a URL or resolved address that config does not allow is not retried either;
 * anything else (other status, redirect, network error, timeout) is retried with backoff. A
 * receiver deleted meanwhile, or registered again with another audience, drops its jobs.
 */
export async function startCaepWorker(opts: CaepWorkerOptions) {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const targets = opts.targets ?? STRICT_RECEIVER_TARGETS;
  const connection = opts.connection.duplicate();
  const workers = new Map<string, Worker<CaepJobData>>();

  const deliver = async (data: CaepJobData): Promise<{ status: number } | { skipped: string }> => {
    const { receiver_id, audience, event, jti, iat, txn } = data;
    const receiver = await opts.receivers.get(receiver_id);
    if (!receiver) return { skipped: 'receiver_deleted' };
    if (receiver.audience !== audience) return { skipped: 'receiver_changed' };
    const set = await opts.signer.signSecurityEvent(
      securityEventPayload(event, { issuer: opts.issuer, audience, jti, iatSec: iat, txn }),
    );
    const headers: Record<string, string> = {
      'Content-Type': 'application/secevent+jwt',
      Accept: 'application/json',
    };
    if (receiver.authorization) headers.Authorization = `Bearer ${receiver.authorization}`;
    let res: { status: number; body: string };
    try {
      res = await pushSecurityEvent(receiver.url, {
        headers,
        body: set,
        timeoutMs,
        targets,
        resolve: opts.resolve,
      });
    } catch (err) {
      if (err instanceof TargetRefused) {
        opts.metrics?.caepEvent(receiver_id, 'target_refused');
        opts.log.error(
          {
            receiver: receiver_id,
            jti,
            event: event.kind,
            grant_id: event.grant.id,
            err: err.message,
          },
          'caep receiver target refused',
        );
        throw new UnrecoverableError(err.message);
      }
      throw new Error(`push failed: ${errorMessage(err)}`);
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status };
    if (res.status === 400) {
      const err = errCodeOf(res.body);
      opts.metrics?.caepEvent(receiver_id, 'refused');
      opts.log.error(
        { receiver: receiver_id, jti, event: event.kind, grant_id: event.grant.id, err },
        'caep receiver refused the SET',
      );
      throw new UnrecoverableError(`receiver refused the SET: ${err}`);
    }
    throw new Error(`receiver answered ${res.status}`);
  };

  const startFor = (receiverId: string) => {
    const worker = new Worker<CaepJobData, { status: number } | { skipped: string }>(
      opts.queueName(receiverId),
      (job) => deliver(job.data),
      {
        connection,
        prefix: opts.prefix,
        concurrency: opts.concurrencyPerReceiver ?? 4,
      },
    );
    worker.on('error', (err) =>
      opts.log.warn({ err: err.message, receiver: receiverId }, 'caep worker error'),
    );
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final =
        err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      const fields = {
        receiver: receiverId,
        jti: job.data.jti,
        event: job.data.event.kind,
        attempt: job.attemptsMade,
        err: err.message,
      };
      if (final) {
        opts.metrics?.caepEvent(receiverId, 'gave_up');
        opts.log.error(fields, 'caep delivery gave up');
      } else opts.log.warn(fields, 'caep delivery failed; will retry');
    });
    worker.on('completed', (job, result) => {
      const outcome = 'skipped' in result ? 'skipped' : 'delivered';
      opts.metrics?.caepEvent(receiverId, outcome);
      opts.log.info(
        {
          receiver: receiverId,
          jti: job.data.jti,
          event: job.data.event.kind,
          ...('skipped' in result ? { skipped: result.skipped } : {}),
        },
        `caep event ${outcome}`,
      );
    });
    workers.set(receiverId, worker);
  };

  /**
   * A deleted receiver's worker stops without waiting for its pushes in flight, and its queue is
   * emptied: its events have no one to go to. Runs beside the refresh, so a deleted receiver that
   * hangs never delays noticing the others.
   */
  const stopping = new Set<Promise<void>>();
  const stopFor = (receiverId: string) => {
    const worker = workers.get(receiverId);
    workers.delete(receiverId);
    const done = (async () => {
      await worker?.close(true);
      const queue = new Queue(opts.queueName(receiverId), { connection, prefix: opts.prefix });
      try {
        await queue.obliterate({ force: true });
      } finally {
        await queue.close();
      }
    })()
      .catch((err: unknown) =>
        opts.log.warn(
          { err: errorMessage(err), receiver: receiverId },
          'caep queue of a deleted receiver not emptied',
        ),
      )
      .finally(() => stopping.delete(done));
    stopping.add(done);
  };

  let syncing: Promise<void> | undefined;
  const sync = () => {
    syncing ??= (async () => {
      const listed = new Set((await opts.receivers.list()).map((r) => r.id));
      for (const id of listed) if (!workers.has(id)) startFor(id);
      for (const id of [...workers.keys()]) if (!listed.has(id)) stopFor(id);
    })()
      .catch((err: unknown) =>
        opts.log.warn({ err: errorMessage(err) }, 'caep receivers not refreshed'),
      )
      .finally(() => {
        syncing = undefined;
      });
    return syncing;
  };
  await sync();
  const timer = setInterval(() => void sync(), opts.refreshMs ?? 1000);
  timer.unref();

  return {
    /** The receivers this process delivers to now (for tests and health). */
    receiverIds: () => [...workers.keys()],
    async close() {
      clearInterval(timer);
      await syncing;
      await Promise.all([...stopping, ...[...workers.values()].map((w) => w.close())]);
      workers.clear();
      connection.disconnect();
    },
  };
}

const errorMessage = (err: unknown) =>
  err instanceof Error
    ? err.cause instanceof Error
      ? `${err.message}: ${err.cause.message}`
      : err.message
    : String(err);

/** The RFC 8935 `err` code of a 400 answer, kept short and plain for the log. */
function errCodeOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { err?: unknown };
    if (typeof parsed.err === 'string')
      return parsed.err.replace(/[^\w.-]/g, '').slice(0, 64) || 'unknown';
  } catch {
    // not JSON
  }
  return 'unknown';
}
