// /admin/decisions and /admin/audit/verify: the decision log and its chain check.
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { MAX_DECISIONS_PER_QUERY } from '../../domain/ports.ts';
import type { HttpDeps } from '../http-deps.ts';
import type { AdminApp } from './admin-auth.ts';

export const QuerySchema = z.object({
  grant_id: z.string().max(200).optional(),
  client_id: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_DECISIONS_PER_QUERY).default(100),
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerDecisions(app: AdminApp, deps: HttpDeps): void {
  app.get('/decisions', async (c) => {
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
  app.get('/audit/verify', async (c) => c.json(await deps.broker.decisions.verify()));
}
