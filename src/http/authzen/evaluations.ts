// POST /access/v1/evaluations (OpenID AuthZEN 1.0): a batch, with defaults and an evaluation semantic.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { SharedInputsRef } from '../../domain/decision-record.ts';
import { StoreUnavailable } from '../../domain/errors.ts';
import { type AuthZenDecision, AuthZenDecisionsSchema } from '../../domain/wire/authzen.ts';
import type { ProofMemo } from '../../services/dpop-binding.ts';
import { EvaluationSchema, evaluateAccess } from '../../services/evaluate-access.ts';
import { shareBatchContext } from '../../services/share-batch-context.ts';
import type { HttpDeps } from '../http-deps.ts';
import { AUTHZEN_ERRORS, CLIENT_AUTH, jsonReply, requestBody } from '../openapi.ts';
import { invalidTokenAnswers, reportInvalidTokens } from '../rate-limit.ts';
import { authenticateResource, issuesOf, readEvaluationBody } from './caller.ts';
import { EVALUATION_EXAMPLE } from './evaluation.ts';
import { AuthZenRefusal, unavailable } from './refusal.ts';

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

export const evaluationsRoute = createRoute({
  method: 'post',
  path: '/evaluations',
  tags: ['AuthZEN'],
  summary: 'Decide a batch (AuthZEN 1.0)',
  description:
    'Top-level subject, action, resource and context are defaults for each item of `evaluations`; `options.evaluations_semantic` may stop at the first deny or permit.',
  security: CLIENT_AUTH,
  responses: {
    200: jsonReply('one decision per evaluation, in order', AuthZenDecisionsSchema, {
      evaluations: [
        { decision: true, context: { decision_id: 'd_01HZY3KD5T2R' } },
        {
          decision: false,
          context: {
            decision_id: 'd_01HZY3KD5T2S',
            reason_admin: { en: 'write is outside the grant', code: 'outside_grant' },
          },
        },
      ],
    }),
    ...AUTHZEN_ERRORS,
  },
});

/** Registers the batch evaluation on the AuthZEN sub-app. */
export function registerEvaluations(
  app: OpenAPIHono,
  deps: HttpDeps,
  [bodyLimit, rateLimit]: readonly [MiddlewareHandler, MiddlewareHandler],
): void {
  const { broker } = deps;
  const body = requestBody(app, 'EvaluationsRequest', BatchSchema, 'application/json', {
    subject: EVALUATION_EXAMPLE.subject,
    resource: EVALUATION_EXAMPLE.resource,
    evaluations: [{ action: { name: 'read' } }, { action: { name: 'write' } }],
    options: { evaluations_semantic: 'execute_all' },
  });
  app.openapi(
    { ...evaluationsRoute, request: { body }, middleware: [bodyLimit, rateLimit] as const },
    async function evaluations(c) {
      const caller = await authenticateResource(c, broker);
      const batch = BatchSchema.safeParse(await readEvaluationBody(c));
      if (!batch.success) throw new AuthZenRefusal(400, 'invalid_request', issuesOf(batch.error));
      const { evaluations, options, ...defaults } = batch.data;
      // Each item is complete once the batch's defaults fill what it leaves out; check them all first.
      const items = evaluations.map((e) => EvaluationSchema.safeParse({ ...defaults, ...e }));
      const bad = items.findIndex((i) => !i.success);
      if (bad >= 0)
        throw new AuthZenRefusal(
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
        if (err instanceof StoreUnavailable) throw unavailable();
        throw err;
      }
      const results: AuthZenDecision[] = [];
      // One forwarded DPoP proof may back every evaluation of the request it came with.
      const proofs: ProofMemo = new Map();
      for (const [i, item] of items.entries()) {
        const usesShared = evaluations[i]?.context === undefined ? shared : undefined;
        const result = await evaluateAccess(
          broker,
          caller,
          (item as { data: z.infer<typeof EvaluationSchema> }).data,
          usesShared,
          proofs,
        );
        results.push(result);
        if (semantic === 'deny_on_first_deny' && !result.decision) break;
        if (semantic === 'permit_on_first_permit' && result.decision) break;
      }
      reportInvalidTokens(c, invalidTokenAnswers(results));
      return c.json({ evaluations: results }, 200, { 'Cache-Control': 'no-store' });
    },
  );
}
