// Config sections for the people who run Mandate: approval notifications, audit sinks, the worker's metrics port.
import { z } from 'zod';

/** One place a new approval is posted to: JSON for your own hook, or a Slack incoming webhook. */
export const NotifyTargetSchema = z
  .object({
    /** The webhook URL (https on a public address unless `approvals.notify_allow_*` allow more); kept out of Redis. */
    url: z.url(),
    /** `json`: `{type, approval, link}`; `slack`: Slack's `{text, blocks}` with a button to the console page. */
    format: z.enum(['json', 'slack']).default('json'),
  })
  .strict();
export type NotifyTarget = z.infer<typeof NotifyTargetSchema>;

export const ApprovalNotifySchema = z
  .array(NotifyTargetSchema)
  .max(16)
  .refine((ts) => new Set(ts.map((t) => t.url)).size === ts.length, 'notify urls must be unique')
  .default([]);

const SinkCommon = {
  /** Names the sink in metrics and its cursor in Redis (default: its type, then `-2`, `-3` for more of one type). Renaming starts it afresh from the stream's end. */
  name: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/)
    .optional(),
  /** Records waiting in this process for the sink; beyond it the sink falls behind (counted, /readyz degraded) and reads them again from the stream. */
  max_queue: z.number().int().min(10).max(1_000_000).default(10_000),
};

/** Where every decision record is also written, in stream order with its chain fields. */
export const AuditSinkSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stdout'), ...SinkCommon }).strict(),
  z
    .object({
      type: z.literal('file'),
      /** The JSON-lines file records are appended to. */
      path: z.string().min(1),
      /** Rotate when the file would pass this size: `<path>` becomes `<path>.1`, `.1` becomes `.2`, ... */
      max_bytes: z.number().int().min(1024).default(104_857_600),
      /** Rotated files kept (`<path>.1` .. `<path>.<keep>`). */
      keep: z.number().int().min(1).max(100).default(5),
      ...SinkCommon,
    })
    .strict(),
  z
    .object({
      type: z.literal('otlp'),
      /** OTLP/HTTP logs endpoint, e.g. `http://collector:4318/v1/logs`. */
      url: z.url(),
      /** Extra request headers (an API key for a hosted collector). */
      headers: z.record(z.string(), z.string()).default({}),
      /** Longest one export may take. */
      timeout_ms: z.number().int().min(100).max(60_000).default(10_000),
      ...SinkCommon,
    })
    .strict(),
]);
export type AuditSinkConfig = z.infer<typeof AuditSinkSchema>;

export const AuditSinksSchema = z
  .array(AuditSinkSchema)
  .max(8)
  .refine(
    (sinks) => new Set(sinkNames(sinks)).size === sinks.length,
    'audit sink names must be unique',
  )
  .default([]);

/** Each sink's name: its own, or its type (then `<type>-2`, `<type>-3` for more of one type). */
export function sinkNames(sinks: ReadonlyArray<{ type: string; name?: string | undefined }>) {
  const seen = new Map<string, number>();
  return sinks.map((s) => {
    const n = (seen.get(s.type) ?? 0) + 1;
    seen.set(s.type, n);
    return s.name ?? (n === 1 ? s.type : `${s.type}-${n}`);
  });
}
