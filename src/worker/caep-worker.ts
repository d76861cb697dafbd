// CAEP delivery, worker side: signs each queued event as a SET and pushes it per RFC 8935, with retries.
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { ReceiverStore } from '../domain/receiver.ts';
import { type ReceiverTargetPolicy, STRICT_RECEIVER_TARGETS } from '../domain/receiver-target.ts';
import { type SecurityEventSigner, securityEventPayload } from '../domain/security-event.ts';
import type { Logger } from '../services/broker.ts';
import { type CaepJobData, type CaepQueueOptions, errorMessage } from './caep-delivery.ts';
import { pushSecurityEvent, type ResolveAll, TargetRefused } from './push-security-event.ts';
import { duplicateConnection } from './queue-connection.ts';

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
  const connection = duplicateConnection(opts.connection);
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
