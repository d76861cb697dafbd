// One audit sink's writer: follows the decision stream (leased, in order), a bounded queue in front of the sink, at least once.
import type { AuditFeed, AuditFeedEntry } from '../../domain/ports.ts';
import type { Logger } from '../../services/broker.ts';
import type { SinkRecord, SinkWriter } from './sink-writer.ts';

export interface SinkRunnerOptions {
  readonly name: string;
  readonly writer: SinkWriter;
  readonly feed: AuditFeed;
  /** Records held in this process for the sink; what arrives beyond it is dropped here and read again later. */
  readonly maxQueue: number;
  /** This process's lease holder id. */
  readonly holder: string;
  readonly log: Logger;
  readonly count: (event: { written?: number; dropped?: number; lag?: number }) => void;
  readonly batchSize?: number | undefined;
  readonly pollMs?: number | undefined;
  readonly leaseMs?: number | undefined;
}

export interface SinkHealth {
  /** Records appended and not yet written. */
  readonly behind: number;
  /** Since when writes have failed (epoch ms), if they do. */
  readonly failingSinceMs: number | undefined;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms).unref());

/**
 * Two loops share the bounded queue. The reader holds the sink's lease and moves records from the
 * stream into the queue in stream order; when the queue is full, new records are read and dropped
 * from memory (counted in `dropped`) and then read again from the stream once there is room, so
 * nothing is lost and order holds. The writer writes batches, acknowledges them (the cursor moves)
 * and on a failure retries the same batch with backoff. A decision's answer never waits for any of
 * this: the stream is the buffer. A record retention trimmed before it was written is counted as
 * dropped and logged.
 */
export function startSinkRunner(opts: SinkRunnerOptions) {
  const batchSize = opts.batchSize ?? 500;
  const pollMs = opts.pollMs ?? 200;
  const leaseMs = opts.leaseMs ?? 10_000;
  let queue: SinkRecord[] = [];
  /** Set after a drop: records handed out after this stream id are read again before new ones. */
  let rereadAfter: string | undefined;
  let leased = false;
  let stopped = false;
  let failingSinceMs: number | undefined;
  let behind = 0;

  const take = async (entries: AuditFeedEntry[]) => {
    const lost = entries.filter((e) => !e.record || !e.text);
    if (lost.length) {
      opts.count({ dropped: lost.length });
      opts.log.error(
        { sink: opts.name, records: lost.length, from: lost[0]?.sid },
        'audit sink: records trimmed by retention before they were written',
      );
      await opts.feed.ack(
        opts.name,
        lost.map((e) => e.sid),
      );
    }
    for (const e of entries)
      if (e.record && e.text) queue.push({ sid: e.sid, record: e.record, text: e.text });
  };

  const readOnce = async (): Promise<boolean> => {
    const wasLeased = leased;
    leased = await opts.feed.lease(opts.name, opts.holder, leaseMs);
    if (!leased) {
      queue = [];
      return false;
    }
    if (!wasLeased) {
      await opts.feed.open(opts.name);
      // What an earlier writer (this process before, or another) was handed and did not write.
      rereadAfter = '0';
    }
    const room = opts.maxQueue - queue.length;
    if (room <= 0) {
      const arrived = await opts.feed.read(opts.name, { new: true }, batchSize);
      if (arrived.length) {
        rereadAfter ??= queue.at(-1)?.sid ?? '0';
        opts.count({ dropped: arrived.length });
      }
      return false;
    }
    const count = Math.min(room, batchSize);
    if (rereadAfter !== undefined) {
      const again = await opts.feed.read(opts.name, { pendingAfter: rereadAfter }, count);
      if (again.length === 0) rereadAfter = undefined;
      else {
        rereadAfter = again.at(-1)?.sid;
        await take(again);
        return true;
      }
    }
    const fresh = await opts.feed.read(opts.name, { new: true }, count);
    await take(fresh);
    return fresh.length > 0;
  };

  const reader = (async () => {
    while (!stopped) {
      const more = await readOnce().catch((err: unknown) => {
        opts.log.warn(
          { sink: opts.name, err: String(err) },
          'audit sink: reading the stream failed',
        );
        return false;
      });
      if (!more) await sleep(leased ? pollMs : 1000);
    }
  })();

  let backoffMs = 500;
  const writer = (async () => {
    while (!stopped) {
      const batch = queue.slice(0, batchSize);
      if (batch.length === 0) {
        await sleep(pollMs / 2);
        continue;
      }
      try {
        await opts.writer.write(batch);
        await opts.feed.ack(
          opts.name,
          batch.map((r) => r.sid),
        );
        // The reader may have emptied the queue (lease lost) meanwhile: drop only what was written.
        if (queue[0] === batch[0]) queue = queue.slice(batch.length);
        opts.count({ written: batch.length });
        failingSinceMs = undefined;
        backoffMs = 500;
      } catch (err) {
        if (failingSinceMs === undefined)
          opts.log.error(
            { sink: opts.name, err: String(err) },
            'audit sink: write failed; retrying',
          );
        failingSinceMs ??= Date.now();
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  })();

  const measure = async () => {
    const lag = await opts.feed.lag(opts.name).catch(() => undefined);
    if (lag !== undefined) {
      behind = lag;
      opts.count({ lag });
    }
  };
  const timer = setInterval(() => void measure(), 1000);
  timer.unref();

  return {
    name: opts.name,
    health: (): SinkHealth => ({ behind, failingSinceMs }),
    /** Waits until nothing is queued or `timeoutMs` passed (tests, shutdown). */
    async close() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([reader, writer]);
      if (leased) await opts.feed.release(opts.name, opts.holder).catch(() => undefined);
      await opts.writer.close();
    },
  };
}
