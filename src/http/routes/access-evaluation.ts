// OpenID AuthZEN Authorization API 1.0: single and batch evaluation, and the PDP metadata.
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { Client } from '../../domain/client.ts';
import type { SharedInputsRef } from '../../domain/decision-record.ts';
import { OAuthError, StoreUnavailable } from '../../domain/errors.ts';
import { parseJsonWithin } from '../../domain/json-bounds.ts';
import {
  type EvaluationResponse,
  EvaluationSchema,
  evaluateAccess,
} from '../../services/evaluate-access.ts';
import { requireResourceClient } from '../../services/introspect-token.ts';
import { shareBatchContext } from '../../services/share-batch-context.ts';
import { authenticateBasic } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { invalidTokenAnswers, reportInvalidTokens } from '../rate-limit.ts';
import { jsonLimitsOf } from '../read-body.ts';

export const MAX_BATCH = 100;

const Partial = z.record(z.string(), z.unknown());
export const BatchSchema = z
  .object({
    subject: Partial.optional(),
    action: Partial.optional(),
    resource: Partial.optional(),
    context: Partial.optional(),
    evaluations: z.array(Partial).min(1).max(MAX_BATCH),
    options: z
      .object({
        evaluations_semantic: z
          .enum(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'])
          .optional(),
      })
      .passthrough()
      .optional(),
  })
  .strict();

/** Errors keep AuthZEN's answer shape and always say `decision: false`. */
function refuse(
  status: number,
  code: string,
  en: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ decision: false, context: { reason_admin: { en, code } } }),
    {
      status,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    },
  );
}

async function readBody(c: Context): Promise<unknown> {
  if (c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() !== 'application/json') {
    throw Object.assign(new Error('the body must be application/json'), { status: 415 });
  }
  // Bounded at parse time: a context nested or sized past the limits never reaches evaluation or its record.
  const body = parseJsonWithin(await c.req.text(), jsonLimitsOf(c));
  if (!body.ok)
    throw Object.assign(
      new Error(body.reason === 'syntax' ? 'the body is not valid JSON' : body.message),
      { status: 400 },
    );
  return body.value;
}

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

export function accessEvaluationRoutes(deps: HttpDeps): Hono {
  const { broker } = deps;
  const issuer = broker.settings.issuer;
  const app = new Hono();

  const handle = async (c: Context, run: (caller: Client, body: unknown) => Promise<Response>) => {
    let caller: Client;
    try {
      caller = await authenticateBasic(c, broker);
      requireResourceClient(caller);
    } catch (err) {
      if (err instanceof StoreUnavailable)
        return refuse(503, 'unavailable', 'Mandate cannot check this now', { 'Retry-After': '1' });
      if (err instanceof OAuthError && err.code === 'unauthorized_client')
        return refuse(403, 'forbidden', 'only resource clients may ask for decisions');
      return refuse(401, 'unauthenticated', 'resource client authentication is required', {
        'WWW-Authenticate': 'Basic realm="mandate"',
      });
    }
    let body: unknown;
    try {
      body = await readBody(c);
    } catch (err) {
      return refuse((err as { status: number }).status, 'invalid_request', (err as Error).message);
    }
    try {
      return await run(caller, body);
    } catch (err) {
      deps.log.error({ err }, 'evaluation failed');
      return refuse(500, 'error', 'internal error');
    }
  };

  app.post('/access/v1/evaluation', (c) =>
    handle(c, async (caller, body) => {
      const parsed = EvaluationSchema.safeParse(body);
      if (!parsed.success) return refuse(400, 'invalid_request', issuesOf(parsed.error));
      const answer = await evaluateAccess(broker, caller, parsed.data);
      reportInvalidTokens(c, invalidTokenAnswers([answer]));
      return c.json(answer, 200, { 'Cache-Control': 'no-store' });
    }),
  );

  app.post('/access/v1/evaluations', (c) =>
    handle(c, async (caller, body) => {
      const batch = BatchSchema.safeParse(body);
      if (!batch.success) return refuse(400, 'invalid_request', issuesOf(batch.error));
      const { evaluations, options, ...defaults } = batch.data;
      // Each item is complete once the batch's defaults fill what it leaves out; check them all first.
      const items = evaluations.map((e) => EvaluationSchema.safeParse({ ...defaults, ...e }));
      const bad = items.findIndex((i) => !i.success);
      if (bad >= 0)
        return refuse(
          400,
          'invalid_request',
          `evaluations.${bad}: ${issuesOf((items[bad] as { error: z.ZodError }).error)}`,
        );
      const semantic = options?.evaluations_semantic ?? 'execute_all';
      // The batch's context is recorded once and named by each decision that takes it, not copied into each.
      const sharing =
        defaults.context !== undefined &&
        evaluations.filter((e) => e.context === undefined).length > 1;
      let shared: SharedInputsRef | undefined;
      try {
        if (sharing)
          shared = await shareBatchContext(
            broker,
            caller,
            defaults.context as Record<string, unknown>,
          );
      } catch (err) {
        if (err instanceof StoreUnavailable)
          return refuse(503, 'unavailable', 'Mandate cannot check this now', {
            'Retry-After': '1',
          });
        throw err;
      }
      const results: EvaluationResponse[] = [];
      for (const [i, item] of items.entries()) {
        const usesShared = evaluations[i]?.context === undefined ? shared : undefined;
        const result = await evaluateAccess(
          broker,
          caller,
          (item as { data: z.infer<typeof EvaluationSchema> }).data,
          usesShared,
        );
        results.push(result);
        if (semantic === 'deny_on_first_deny' && !result.decision) break;
        if (semantic === 'permit_on_first_permit' && result.decision) break;
      }
      reportInvalidTokens(c, invalidTokenAnswers(results));
      return c.json({ evaluations: results }, 200, { 'Cache-Control': 'no-store' });
    }),
  );

  app.get('/.well-known/authzen-configuration', (c) =>
    c.json({
      policy_decision_point: issuer,
      access_evaluation_endpoint: `${issuer}/access/v1/evaluation`,
      access_evaluations_endpoint: `${issuer}/access/v1/evaluations`,
    }),
  );
  return app;
}
