// Approval notifications: the API queues one BullMQ job per (new approval, notify target); the worker posts it, retried with backoff.
import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Approval } from '../domain/approval.ts';
import { approvalNotice } from '../domain/approval-notice.ts';
import type { ApprovalNotifier } from '../domain/ports.ts';
import type { ReceiverTargetPolicy } from '../domain/receiver-target.ts';
import type { Logger } from '../services/broker.ts';
import { errorMessage } from './caep-delivery.ts';
import { pushSecurityEvent, type ResolveAll, TargetRefused } from './push-security-event.ts';
import { duplicateConnection, type QueueConnection } from './queue-connection.ts';
import { waitAtMost } from './wait-at-most.ts';

/** A configured target (config `approvals.notify`). Its URL (a Slack webhook is a secret) never enters Redis. */
export interface NotifyTarget {
  readonly url: string;
  readonly format: 'json' | 'slack';
}

/** What happened to one notice, counted in `mandate_approval_notifications_total`. */
export type NoticeOutcome = 'queued' | 'delivered' | 'retried' | 'gave_up' | 'skipped';

export interface NotifyQueueOptions {
  readonly connection: QueueConnection;
  readonly prefix: string;
  readonly queueName: string;
  readonly targets: readonly NotifyTarget[];
  readonly issuer: string;
  readonly log: Logger;
  readonly count?: ((outcome: NoticeOutcome) => void) | undefined;
}

/** The job: which target (by a digest of its URL) and the body to post. */
interface NoticeJob {
  readonly target: string;
  readonly approval_id: string;
  readonly body: string;
}

/** 1 s, 2 s, 4 s ... : ten attempts span about 17 minutes. */
export const NOTICE_JOB_OPTIONS = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: 1000,
  removeOnFail: 5000,
} as const;

/** Longest opening an approval waits on the queue before going on (the job lands later). */
const ENQUEUE_WAIT_MS = 1000;

const targetId = (t: NotifyTarget) =>
  createHash('sha256').update(t.url).digest('base64url').slice(0, 16);

/** The ApprovalNotifier of a process with the API: one job per target, idempotent per approval. */
export function createApprovalNotifier(
  opts: NotifyQueueOptions,
): ApprovalNotifier & { close(): Promise<void> } {
  const queue = new Queue<NoticeJob>(opts.queueName, {
    connection: opts.connection,
    prefix: opts.prefix,
  });
  queue.on('error', (err) => opts.log.warn({ err: err.message }, 'approval notify queue error'));
  const enqueue = async (approval: Approval) => {
    await Promise.all(
      opts.targets.map(async (t) => {
        const target = targetId(t);
        const body = JSON.stringify(approvalNotice(approval, opts.issuer, t.format));
        await queue.add(
          'approval',
          { target, approval_id: approval.id, body },
          { ...NOTICE_JOB_OPTIONS, jobId: `${approval.id}.${target}` },
        );
        opts.count?.('queued');
      }),
    );
  };
  return {
    async opened(approval) {
      if (opts.targets.length === 0) return;
      const work = enqueue(approval).catch((err: unknown) =>
        opts.log.error(
          { err: errorMessage(err), approval_id: approval.id },
          'approval notification not queued',
        ),
      );
      await waitAtMost(work, ENQUEUE_WAIT_MS);
    },
    close: () => queue.close(),
  };
}

export interface NotifyWorkerOptions extends NotifyQueueOptions {
  /** Where targets may be (config `approvals.notify_allow_*`), checked on every resolved address. */
  readonly policy: ReceiverTargetPolicy;
  readonly timeoutMs?: number | undefined;
  readonly concurrency?: number | undefined;
  readonly resolve?: ResolveAll | undefined;
}

/**
 * Posts queued notices: a 2xx is delivered; a target config no longer lists is skipped; an
 * address config does not allow is given up at once; anything else is retried with backoff.
 */
export function startApprovalNotifyWorker(opts: NotifyWorkerOptions) {
  const byId = new Map(opts.targets.map((t) => [targetId(t), t]));
  const connection = duplicateConnection(opts.connection);
  const worker = new Worker<NoticeJob, 'delivered' | 'skipped'>(
    opts.queueName,
    async (job) => {
      const target = byId.get(job.data.target);
      if (!target) return 'skipped';
      let res: { status: number };
      try {
        res = await pushSecurityEvent(target.url, {
          headers: { 'Content-Type': 'application/json' },
          body: job.data.body,
          timeoutMs: opts.timeoutMs ?? 5000,
          targets: opts.policy,
          resolve: opts.resolve,
        });
      } catch (err) {
        if (err instanceof TargetRefused) throw new UnrecoverableError(err.message);
        throw new Error(`post failed: ${errorMessage(err)}`);
      }
      if (res.status < 200 || res.status >= 300) throw new Error(`target answered ${res.status}`);
      return 'delivered';
    },
    { connection, prefix: opts.prefix, concurrency: opts.concurrency ?? 4 },
  );
  worker.on('error', (err) => opts.log.warn({ err: err.message }, 'approval notify worker error'));
  worker.on('completed', (job, outcome) => {
    opts.count?.(outcome);
    opts.log.info(
      { approval_id: job.data.approval_id, target: job.data.target, outcome },
      'approval notification sent',
    );
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    opts.count?.(final ? 'gave_up' : 'retried');
    const fields = {
      approval_id: job.data.approval_id,
      target: job.data.target,
      attempt: job.attemptsMade,
      err: err.message,
    };
    if (final) opts.log.error(fields, 'approval notification gave up');
    else opts.log.warn(fields, 'approval notification failed; will retry');
  });
  return {
    async close() {
      await worker.close();
      connection.disconnect();
    },
  };
}
