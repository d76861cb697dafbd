// The OTLP audit sink: each record one OpenTelemetry log record, exported over OTLP/HTTP (JSON) by the official exporter.
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  LoggerProvider,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type SdkLogRecord,
} from '@opentelemetry/sdk-logs';
import type { SinkWriter } from './sink-writer.ts';

export interface OtlpSinkOptions {
  /** OTLP/HTTP logs endpoint (`…/v1/logs`). */
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
}

/**
 * Log records are built by the SDK's LoggerProvider and handed to the exporter batch by batch, so
 * the sink knows when a batch was accepted (and only then moves its cursor). Body: the record's
 * exact stored text (verifiable with its hash); attributes: id, kind, outcome, client, grant and
 * the chain fields; time: the decision's.
 */
export function createOtlpSink(opts: OtlpSinkOptions): SinkWriter {
  const exporter = new OTLPLogExporter({
    url: opts.url,
    headers: opts.headers,
    timeoutMillis: opts.timeoutMs,
  });
  let captured: ReadableLogRecord[] = [];
  const capture: LogRecordProcessor = {
    onEmit: (record: SdkLogRecord) => {
      captured.push(record as unknown as ReadableLogRecord);
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'mandate' }),
    processors: [capture],
  });
  const logger = provider.getLogger('mandate.audit');
  return {
    async write(batch) {
      if (batch.length === 0) return;
      captured = [];
      for (const { record, text, sid } of batch) {
        logger.emit({
          timestamp: record.at_ms,
          severityNumber: SeverityNumber.INFO,
          severityText: 'INFO',
          eventName: 'mandate.decision',
          body: text,
          attributes: {
            'mandate.decision.id': record.id,
            'mandate.decision.kind': record.kind,
            'mandate.decision.outcome': record.outcome,
            'mandate.decision.reasons': record.reasons,
            'mandate.client_id': record.client_id ?? '',
            'mandate.grant_id': record.grant_id ?? '',
            'mandate.audit.chain': record.chain,
            'mandate.audit.seq': record.seq,
            'mandate.audit.prev': record.prev,
            'mandate.audit.hash': record.hash,
            'mandate.audit.stream_id': sid,
          },
        });
      }
      const records = captured;
      captured = [];
      await new Promise<void>((ok, fail) =>
        exporter.export(records, (result) =>
          result.code === 0
            ? ok()
            : fail(result.error ?? new Error('the OTLP collector refused the export')),
        ),
      );
    },
    async close() {
      await provider.shutdown().catch(() => undefined);
      await exporter.shutdown().catch(() => undefined);
    },
  };
}
