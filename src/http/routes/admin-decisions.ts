// /admin/decisions and /admin/audit/verify: the decision log and its chain check.
import { Hono } from 'hono';
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { MAX_DECISIONS_PER_QUERY } from '../../domain/ports.ts';
import type { AdminEnv } from '../admin-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';

export const QuerySchema = z.object({
  grant_id: z.string().max(200).optional(),
  client_id: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_DECISIONS_PER_QUERY).default(100),
});

export function adminDecisionRoutes(deps: HttpDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.onError((err, c) => renderProblem(c, err, deps.log));
  app.get('/admin/decisions', async (c) => {
    const q = QuerySchema.safeParse(c.req.query());
    if (!q.success)
      throw new ProblemError(
        400,
        'Invalid query',
        q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    const decisions = await deps.broker.decisions.list(q.data);
    // A batch's shared inputs once, by record id, beside the decisions that name them (`inputs.shared_context`).
    return c.json({
      decisions,
      shared_inputs: await deps.broker.decisions.sharedInputs(decisions),
    });
  });
  app.get('/admin/audit/verify', async (c) => c.json(await deps.broker.decisions.verify()));
  return app;
}
