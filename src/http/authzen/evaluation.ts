// POST /access/v1/evaluation (OpenID AuthZEN 1.0): one decision, now.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { EvaluationSchema, evaluateAccess } from '../../services/evaluate-access.ts';
import type { HttpDeps } from '../http-deps.ts';
import { invalidTokenAnswers, reportInvalidTokens } from '../rate-limit.ts';
import { authenticateResource, issuesOf, readEvaluationBody } from './caller.ts';
import { AuthZenRefusal } from './refusal.ts';

/** Registers the single evaluation on the AuthZEN sub-app. */
export function registerEvaluation(
  app: OpenAPIHono,
  deps: HttpDeps,
  [bodyLimit, rateLimit]: readonly [MiddlewareHandler, MiddlewareHandler],
): void {
  const { broker } = deps;
  app.post('/evaluation', bodyLimit, rateLimit, async function evaluation(c) {
    const caller = await authenticateResource(c, broker);
    const parsed = EvaluationSchema.safeParse(await readEvaluationBody(c));
    if (!parsed.success) throw new AuthZenRefusal(400, 'invalid_request', issuesOf(parsed.error));
    const answer = await evaluateAccess(broker, caller, parsed.data);
    reportInvalidTokens(c, invalidTokenAnswers([answer]));
    return c.json(answer, 200, { 'Cache-Control': 'no-store' });
  });
}
