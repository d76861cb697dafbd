// POST /access/v1/evaluation (OpenID AuthZEN 1.0): one decision, now.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { AuthZenDecisionSchema } from '../../domain/wire/authzen.ts';
import { EvaluationSchema, evaluateAccess } from '../../services/evaluate-access.ts';
import type { HttpDeps } from '../http-deps.ts';
import { AUTHZEN_ERRORS, CLIENT_AUTH, jsonReply, requestBody } from '../openapi.ts';
import { invalidTokenAnswers, reportInvalidTokens } from '../rate-limit.ts';
import { authenticateResource, issuesOf, readEvaluationBody } from './caller.ts';
import { AuthZenRefusal } from './refusal.ts';

/** An evaluation request as the examples show it: the agent's token as subject, the pair it wants to act on. */
export const EVALUATION_EXAMPLE = {
  subject: {
    type: 'agent',
    id: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2ln',
  },
  action: { name: 'read' },
  resource: { type: 'file', id: 'https://files.example.com/invoices/q3.pdf' },
  context: { ip: '203.0.113.7' },
};

export const evaluationRoute = createRoute({
  method: 'post',
  path: '/evaluation',
  tags: ['AuthZEN'],
  summary: 'Decide one action now (AuthZEN 1.0)',
  description:
    'Decides this action on this resource now: token live, the pair within the granted authorization_details, declared step order respected, policy re-evaluated with the live context and usage counters. Every call is a decision record and counts toward the grant usage.',
  security: CLIENT_AUTH,
  responses: {
    200: jsonReply('the decision', AuthZenDecisionSchema, {
      decision: true,
      context: { decision_id: 'd_01HZY3KD5T2R' },
    }),
    ...AUTHZEN_ERRORS,
  },
});

/** Registers the single evaluation on the AuthZEN sub-app. */
export function registerEvaluation(
  app: OpenAPIHono,
  deps: HttpDeps,
  [bodyLimit, rateLimit]: readonly [MiddlewareHandler, MiddlewareHandler],
): void {
  const { broker } = deps;
  const body = requestBody(
    app,
    'EvaluationRequest',
    EvaluationSchema,
    'application/json',
    EVALUATION_EXAMPLE,
  );
  app.openapi(
    { ...evaluationRoute, request: { body }, middleware: [bodyLimit, rateLimit] as const },
    async function evaluation(c) {
      const caller = await authenticateResource(c, broker);
      const parsed = EvaluationSchema.safeParse(await readEvaluationBody(c));
      if (!parsed.success) throw new AuthZenRefusal(400, 'invalid_request', issuesOf(parsed.error));
      const answer = await evaluateAccess(broker, caller, parsed.data);
      reportInvalidTokens(c, invalidTokenAnswers([answer]));
      return c.json(answer, 200, { 'Cache-Control': 'no-store' });
    },
  );
}
