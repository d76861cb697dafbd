// Job counts of Mandate's BullMQ queues for the gauges: re-evaluation, approval notices and each CAEP receiver's.
import { Queue } from 'bullmq';
import type { QueueConnection } from './queue-connection.ts';

const STATES = ['wait', 'active', 'delayed', 'failed'] as const;

export interface QueueDepthOptions {
  readonly connection: QueueConnection;
  readonly prefix: string;
  /** Queues always read (re-evaluation, approval notices). */
  readonly fixed: readonly string[];
  /** The CAEP receivers registered now, and the queue name of one. */
  readonly receiverIds: () => Promise<string[]>;
  readonly receiverQueue: (id: string) => string;
}

export interface Depth {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * Reads each queue's job counts (one command per queue); Queue objects are kept per name and
 * closed when a receiver goes.
 */
export function createQueueDepthReader(opts: QueueDepthOptions) {
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
      q.on('error', () => undefined);
      queues.set(name, q);
    }
    return q;
  };
  // One scrape asks twice (two gauges); they share one read.
  let last: { at: number; result: Promise<{ depth: Depth[]; caepFailed: Depth[] }> } | undefined;
  const read = async (): Promise<{ depth: Depth[]; caepFailed: Depth[] }> => {
    const receivers = await opts.receiverIds();
    const names = [...opts.fixed, ...receivers.map(opts.receiverQueue)];
    for (const [name, q] of queues)
      if (!names.includes(name)) {
        queues.delete(name);
        void q.close().catch(() => undefined);
      }
    const counts = await Promise.all(names.map((n) => queueOf(n).getJobCounts(...STATES)));
    const depth = names.flatMap((queue, i) =>
      STATES.map((state) => ({ labels: { queue, state }, value: counts[i]?.[state] ?? 0 })),
    );
    const caepFailed = receivers.map((receiver, i) => ({
      labels: { receiver },
      value: counts[opts.fixed.length + i]?.failed ?? 0,
    }));
    return { depth, caepFailed };
  };
  return {
    /** Jobs by queue and state, and the failed (given-up) CAEP deliveries by receiver. */
    read() {
      const now = Date.now();
      if (!last || now - last.at > 1000) last = { at: now, result: read() };
      return last.result;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
      queues.clear();
    },
  };
}
