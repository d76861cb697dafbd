// The audit sinks of config `audit.sinks`: one leased runner per sink, each following the decision stream.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type AuditSinkConfig, sinkNames } from '../../config/operations-schema.ts';
import type { AuditFeed } from '../../domain/ports.ts';
import type { Logger } from '../../services/broker.ts';
import { createFileSink } from './file-sink.ts';
import { createOtlpSink } from './otlp-sink.ts';
import { type SinkHealth, startSinkRunner } from './sink-runner.ts';
import type { SinkWriter } from './sink-writer.ts';
import { createStdoutSink } from './stdout-sink.ts';

function writerOf(sink: AuditSinkConfig): SinkWriter {
  switch (sink.type) {
    case 'stdout':
      return createStdoutSink();
    case 'file':
      return createFileSink({ path: sink.path, maxBytes: sink.max_bytes, keep: sink.keep });
    case 'otlp':
      return createOtlpSink({ url: sink.url, headers: sink.headers, timeoutMs: sink.timeout_ms });
  }
}

export interface AuditSinksOptions {
  readonly sinks: readonly AuditSinkConfig[];
  readonly feed: AuditFeed;
  readonly log: Logger;
  readonly count: (
    sink: string,
    event: { written?: number; dropped?: number; lag?: number },
  ) => void;
  readonly pollMs?: number | undefined;
}

/**
 * Starts a runner per configured sink in this process; each writes only while it holds its sink's
 * lease. A new sink's cursor is set at the stream's end before this resolves: it gets every record
 * appended from then on.
 */
export async function startAuditSinks(opts: AuditSinksOptions) {
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const names = sinkNames(opts.sinks);
  for (const name of names) await opts.feed.open(name);
  const runners = opts.sinks.map((sink, i) => {
    const name = names[i] as string;
    return startSinkRunner({
      name,
      writer: writerOf(sink),
      feed: opts.feed,
      maxQueue: sink.max_queue,
      holder,
      log: opts.log,
      count: (event) => opts.count(name, event),
      pollMs: opts.pollMs,
    });
  });
  return {
    health: (): Record<string, SinkHealth> =>
      Object.fromEntries(runners.map((r) => [r.name, r.health()])),
    close: async () => {
      await Promise.all(runners.map((r) => r.close()));
    },
  };
}
