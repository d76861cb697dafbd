// The re-evaluation worker: a BullMQ job scheduler sweeps every live grant; events re-evaluate some at once.
import { Queue, Worker } from 'bullmq';
import type { Reevaluator } from '../domain/ports.ts';
import { type Broker, nowSecOf } from '../services/broker.ts';
import {
  noReevaluations,
  type ReevaluationSummary,
  reevaluateGrants,
} from '../services/reevaluate-grants.ts';
import { duplicateConnection, type QueueConnection } from './queue-connection.ts';

export const SWEEP_SCHEDULER_ID = 'sweep';

export interface ReevaluationQueueOptions {
  readonly connection: QueueConnection;
  readonly prefix: string;
  readonly name: string;
}

type JobData = { ids: string[]; cause: string } | { cause: string };

/** The queue side, for any process that needs to hand grants over (API or worker). */
/** Every re-evaluation job: retried with backoff, a bounded history kept. */
const JOB_OPTS = {
  removeOnComplete: 1000,
  removeOnFail: 1000,
  attempts: 5,
  backoff: { type: 'exponential', delay: 200 },
} as const;

export function createReevaluationQueue(
  opts: ReevaluationQueueOptions,
): Reevaluator & { queue: Queue; close(): Promise<void> } {
  const queue = new Queue<JobData>(opts.name, { connection: opts.connection, prefix: opts.prefix });
  queue.on('error', () => undefined); // the connection's own listener logs it
  return {
    queue,
    async enqueue(ids, cause) {
      for (let i = 0; i < ids.length; i += 500)
        await queue.add(
          'grants',
          { ids: ids.slice(i, i + 500), cause },
          { ...JOB_OPTS, priority: 1 },
        );
    },
    async enqueueAll(cause) {
      await queue.add('sweep', { cause }, JOB_OPTS);
    },
    close: () => queue.close(),
  };
}

export interface WorkerOptions extends ReevaluationQueueOptions {
  readonly sweepEveryMs: number;
  /** Called when a sweep job finished: its duration (s) and when (epoch s). */
  readonly onSweepDone?: ((seconds: number, atSec: number) => void) | undefined;
  readonly batchSize: number;
  readonly concurrency: number;
}

/**
 * Starts the worker and (re)installs the sweep scheduler under a fixed id, so any number of
 * worker processes share one schedule. A job killed mid-way is picked up again as stalled;
 * re-evaluation changes a grant only conditionally, so running it twice changes nothing more.
 */
export async function startReevaluationWorker(broker: Broker, opts: WorkerOptions) {
  const { queue, close: closeQueue, ...reevaluator } = createReevaluationQueue(opts);
  await queue.upsertJobScheduler(
    SWEEP_SCHEDULER_ID,
    { every: opts.sweepEveryMs },
    { name: 'sweep', data: { cause: 'schedule' } },
  );
  // Redis outages are logged as JSON like everything else, never as ioredis' raw stack traces.
  const workerConnection = duplicateConnection(opts.connection);
  workerConnection.on('error', (err: Error) =>
    broker.log.warn({ err: err.message }, 'redis connection error (worker)'),
  );
  const worker = new Worker<JobData, ReevaluationSummary>(
    opts.name,
    async (job) => {
      if ('ids' in job.data) return reevaluateGrants(broker, job.data.ids, job.data.cause);
      return fanOutSweep(
        broker,
        queue,
        opts.batchSize,
        job.id ?? `sweep-${Date.now()}`,
        job.data.cause,
      );
    },
    { connection: workerConnection, prefix: opts.prefix, concurrency: opts.concurrency },
  );
  worker.on('error', (err) => broker.log.warn({ err: err.message }, 're-evaluation worker error'));
  worker.on('failed', (job, err) =>
    broker.log.warn({ job: job?.name, err: err.message }, 're-evaluation job failed'),
  );
  worker.on('completed', (job, result) => {
    if (job.name === 'sweep' && job.processedOn && job.finishedOn)
      opts.onSweepDone?.(
        (job.finishedOn - job.processedOn) / 1000,
        Math.floor(job.finishedOn / 1000),
      );
    if (result && (result.narrow || result.suspend || result.revoke))
      broker.log.info(
        { job: job.name, cause: job.data.cause, ...result },
        're-evaluation changed grants',
      );
  });
  return {
    ...reevaluator,
    worker,
    async close() {
      await worker.close();
      await closeQueue();
    },
  };
}

/**
 * The scheduled sweep, shared by every worker process: the live-grant index is read first (ids
 * only, in pages), then handed out as batch jobs any worker may take. Job ids derive from the
 * sweep job's id, so a sweep job that stalls and runs again queues each batch once.
 */
export async function fanOutSweep(
  broker: Broker,
  queue: Queue<JobData>,
  batchSize: number,
  sweepJobId: string,
  cause: string,
): Promise<ReevaluationSummary & { batches: number }> {
  const nowSec = nowSecOf(broker);
  const ids: string[] = [];
  // Read everything before any batch runs: batches remove ended grants from the index, which
  // would shift the pages of a walk by offset.
  for (let offset = 0; ; offset += SNAPSHOT_PAGE) {
    const page = await broker.grants.liveGrantIds(offset, SNAPSHOT_PAGE, nowSec);
    ids.push(...page);
    if (page.length < SNAPSHOT_PAGE) break;
  }
  const jobs = [];
  for (let i = 0; i < ids.length; i += batchSize) {
    jobs.push({
      name: 'grants',
      data: { ids: ids.slice(i, i + batchSize), cause },
      opts: { ...JOB_OPTS, jobId: `${sweepJobId.replace(/:/g, '_')}-b${i / batchSize}` },
    });
  }
  for (let i = 0; i < jobs.length; i += 100) await queue.addBulk(jobs.slice(i, i + 100));
  return { keep: 0, narrow: 0, suspend: 0, revoke: 0, missing: 0, ended: 0, batches: jobs.length };
}

const SNAPSHOT_PAGE = 5000;

/** Walks the live-grant index a page at a time in this process (pipelined reads per page). */
export async function sweep(
  broker: Broker,
  batchSize: number,
  cause: string,
  progress: (done: number) => unknown = () => undefined,
): Promise<ReevaluationSummary> {
  const total = noReevaluations();
  const nowSec = nowSecOf(broker);
  let offset = 0;
  for (;;) {
    const ids = await broker.grants.liveGrantIds(offset, batchSize, nowSec);
    if (!ids.length) break;
    const result = await reevaluateGrants(broker, ids, cause);
    for (const k of Object.keys(total) as Array<keyof ReevaluationSummary>) total[k] += result[k];
    // Grants this page ended left the index, so the next page starts that many places earlier.
    // (One ended elsewhere meanwhile may be skipped until the next sweep: it has ended already.)
    offset += ids.length - result.ended;
    await progress(offset);
    if (ids.length < batchSize) break;
  }
  return total;
}
