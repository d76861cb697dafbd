// CAEP delivery: one BullMQ job per (receiver, event), signed as a SET and pushed per RFC 8935, with retries.
import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Clock, GrantNotifier } from '../domain/ports.ts';
import type { CaepEventKind, ReceiverStore } from '../domain/receiver.ts';
import { type GrantEvent, type SecurityEventSigner, initiatingEntityOf, securityEventPayload } from '../domain/security-event.ts';
import type { Logger } from '../services/broker.ts';

export interface CaepQueueOptions {
  readonly connection: Redis;
  readonly prefix: string;
  readonly name: string;
}

/** Ids and unsigned event fields only: the receiver's URL and bearer token are read at delivery. */
export interface CaepJobData {
  readonly receiver_id: string;
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

/**
 * The GrantNotifier the API uses: it reads the receivers and queues one delivery job per
 * receiver that wants the event. It never throws into the caller (the revocation itself has
 * already happened): failures are logged, and an enqueue stalled by a Redis hiccup is left to
 * finish in the background after {@link ENQUEUE_WAIT_MS}.
 */
export function createCaepNotifier(
  opts: CaepQueueOptions & { receivers: ReceiverStore; log: Logger; clock: Clock },
): GrantNotifier & { queue: Queue<CaepJobData>; close(): Promise<void> } {
  const queue = new Queue<CaepJobData>(opts.name, { connection: opts.connection, prefix: opts.prefix });
  queue.on('error', (err) => opts.log.warn({ err: err.message }, 'caep queue error'));

  const enqueue = async (kind: CaepEventKind, event: Omit<GrantEvent, 'kind' | 'event_timestamp' | 'initiating_entity'>) => {
    const nowSec = Math.floor(opts.clock.nowMs() / 1000);
    const full: GrantEvent = { ...event, kind, event_timestamp: nowSec, initiating_entity: initiatingEntityOf(event.reason) };
    const txn = randomUUID();
    const work = (async () => {
      const targets = (await opts.receivers.list()).filter((r) => r.events.includes(kind));
      if (!targets.length) return;
      await queue.addBulk(
        targets.map((r) => {
          const jti = randomUUID();
          return { name: kind, data: { receiver_id: r.id, event: full, jti, iat: nowSec, txn }, opts: { ...CAEP_JOB_OPTIONS, jobId: jti } };
        }),
      );
    })().catch((err: unknown) => {
      opts.log.error({ err: errorMessage(err), grant_id: event.grant.id, event: kind }, 'caep event not queued');
    });
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((ok) => {
      timer = setTimeout(() => {
        opts.log.warn({ grant_id: event.grant.id, event: kind }, 'caep enqueue slow; continuing in the background');
        ok();
      }, ENQUEUE_WAIT_MS);
      timer.unref();
    });
    await Promise.race([work, waited]);
    clearTimeout(timer);
  };

  return {
    queue,
    revoked: (grant, reason) => enqueue('session-revoked', { grant: pick(grant), reason }),
    narrowed: (grant, granted, reason) => enqueue('token-claims-change', { grant: pick(grant), reason, granted }),
    close: () => queue.close(),
  };
}

export interface CaepWorkerOptions extends CaepQueueOptions {
  readonly receivers: ReceiverStore;
  readonly signer: SecurityEventSigner;
  readonly issuer: string;
  readonly log: Logger;
  readonly concurrency?: number;
  /** Per-push timeout; a timeout is retried like any transient failure. */
  readonly timeoutMs?: number;
}

/**
 * Starts the delivery worker. Each job signs its SET and POSTs it (RFC 8935 2.2): 202 (any 2xx)
 * is delivered; 400 is the receiver refusing this SET for good (`{"err": ...}`), so it is not
 * retried; anything else (other status, redirect, network error, timeout) is retried with backoff.
 * A receiver deleted meanwhile drops its jobs.
 */
export async function startCaepWorker(opts: CaepWorkerOptions) {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const worker = new Worker<CaepJobData, { status: number } | { skipped: string }>(
    opts.name,
    async (job) => {
      const { receiver_id, event, jti, iat, txn } = job.data;
      const receiver = await opts.receivers.get(receiver_id);
      if (!receiver) return { skipped: 'receiver_deleted' };
      const set = await opts.signer.signSecurityEvent(
        securityEventPayload(event, { issuer: opts.issuer, audience: receiver.audience, jti, iatSec: iat, txn }),
      );
      const headers: Record<string, string> = { 'Content-Type': 'application/secevent+jwt', Accept: 'application/json' };
      if (receiver.authorization) headers.Authorization = `Bearer ${receiver.authorization}`;
      let res: Response;
      try {
        res = await fetch(receiver.url, { method: 'POST', headers, body: set, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new Error(`push failed: ${errorMessage(err)}`);
      }
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel();
        return { status: res.status };
      }
      if (res.status === 400) {
        const err = await errCodeOf(res);
        opts.log.error({ receiver: receiver_id, jti, event: event.kind, grant_id: event.grant.id, err }, 'caep receiver refused the SET');
        throw new UnrecoverableError(`receiver refused the SET: ${err}`);
      }
      await res.body?.cancel();
      throw new Error(`receiver answered ${res.status}`);
    },
    { connection: opts.connection.duplicate(), prefix: opts.prefix, concurrency: opts.concurrency ?? 8 },
  );
  worker.on('error', (err) => opts.log.warn({ err: err.message }, 'caep worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    const fields = { receiver: job.data.receiver_id, jti: job.data.jti, event: job.data.event.kind, attempt: job.attemptsMade, err: err.message };
    if (final) opts.log.error(fields, 'caep delivery gave up');
    else opts.log.warn(fields, 'caep delivery failed; will retry');
  });
  worker.on('completed', (job) => opts.log.info({ receiver: job.data.receiver_id, jti: job.data.jti, event: job.data.event.kind }, 'caep event delivered'));
  return { worker, close: () => worker.close() };
}

const pick = (g: { id: string; client_id: string; task_id: string }) => ({ id: g.id, client_id: g.client_id, task_id: g.task_id });

const errorMessage = (err: unknown) => (err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err));

/** The RFC 8935 `err` code of a 400 answer, kept short and plain for the log. */
async function errCodeOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { err?: unknown };
    if (typeof body.err === 'string') return body.err.replace(/[^\w.-]/g, '').slice(0, 64) || 'unknown';
  } catch {
    // not JSON
  }
  return 'unknown';
}
