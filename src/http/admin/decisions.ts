// /admin/decisions and /admin/audit/verify: the decision log and its chain check.
import { z } from 'zod';
import { MAX_DECISIONS_PER_QUERY } from '../../domain/ports.ts';
import type { HttpDeps } from '../http-deps.ts';
import { jsonReply, problemReply, queryParameters } from '../openapi.ts';
import { readQuery } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';
import { DECISION_EXAMPLE, DecisionRecordSchema, SharedInputsSchema } from './schemas.ts';

export const QuerySchema = z.object({
  grant_id: z.string().max(200).optional(),
  client_id: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_DECISIONS_PER_QUERY).default(100),
});

const decisionsRoute = adminRoute('decisions:read', {
  method: 'get',
  path: '/decisions',
  tags: ['Admin: audit'],
  summary: 'Decision records',
  description: 'Decision records with their inputs, newest first.',
  parameters: queryParameters(QuerySchema),
  responses: {
    200: jsonReply(
      'the records',
      z
        .object({ decisions: z.array(DecisionRecordSchema), shared_inputs: SharedInputsSchema })
        .meta({ id: 'DecisionList' }),
      { decisions: [DECISION_EXAMPLE], shared_inputs: {} },
    ),
    400: problemReply('invalid query'),
  },
});

const verifyRoute = adminRoute('audit:verify', {
  method: 'get',
  path: '/audit/verify',
  tags: ['Admin: audit'],
  summary: 'Verify the audit chain',
  description:
    '`{"ok":true,"records":n}` or the first broken link of the hash chain, read in pages of bounded size. Retention (audit.max_records, audit.max_bytes) trims the oldest records: the first record left of each chain anchors it, a chain head whose last record was trimmed is not compared, and a decision whose shared batch inputs were trimmed is checked without them; a decision naming shared inputs whose hash differs breaks the chain.',
  responses: {
    200: jsonReply(
      'ok, or the first broken link',
      z
        .object({ ok: z.boolean(), records: z.number().int().optional() })
        .loose()
        .meta({ id: 'AuditVerification', description: 'ok, or the first broken link' }),
      { ok: true, records: 1042 },
    ),
  },
});

export const ExportQuerySchema = z.object({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('epoch milliseconds: the first record at or after it (default: the oldest kept)'),
  after: z
    .string()
    .regex(/^\d{1,20}-\d{1,20}$/)
    .optional()
    .describe('a stream id (`next` of the previous page): records after it'),
  limit: z.coerce.number().int().min(1).max(MAX_DECISIONS_PER_QUERY).default(1000),
});

const exportRoute = adminRoute('decisions:read', {
  method: 'get',
  path: '/audit/records',
  tags: ['Admin: audit'],
  summary: 'Decision records in stream order',
  description:
    'Oldest first, a page at a time, each record exactly as stored (its chain fields included), for `mandate audit export`. `next` is the stream id to pass as `after` for the next page; null at the end.',
  parameters: queryParameters(ExportQuerySchema),
  responses: {
    200: jsonReply(
      'a page of records',
      z
        .object({ records: z.array(DecisionRecordSchema), next: z.string().nullable() })
        .meta({ id: 'DecisionPage' }),
      { records: [DECISION_EXAMPLE], next: '1767225600123-0' },
    ),
    400: problemReply('invalid query'),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerDecisions(app: AdminApp, deps: HttpDeps): void {
  app.openapi(decisionsRoute, async (c) => {
    const query = readQuery(c, QuerySchema);
    const decisions = await deps.broker.decisions.list(query);
    // A batch's shared inputs once, by record id, beside the decisions that name them (`inputs.shared_context`).
    return c.json({
      decisions,
      shared_inputs: await deps.broker.decisions.sharedInputs(decisions),
    });
  });
  app.openapi(exportRoute, async (c) => {
    const query = readQuery(c, ExportQuerySchema);
    const page = await deps.broker.decisions.page(
      query.after !== undefined ? { after: query.after } : { sinceMs: query.since ?? 0 },
      query.limit,
    );
    const next = page.length === query.limit ? (page.at(-1)?.sid ?? null) : null;
    return c.json({ records: page.map((p) => p.record), next }, 200);
  });
  app.openapi(verifyRoute, async (c) => c.json(await deps.broker.decisions.verify(), 200));
}
