// /admin/approvals: pending human approvals, and an approver's decision on one.
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { decideApproval } from '../../services/approvals.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readJson } from '../read-body.ts';
import type { AdminApp } from './admin-auth.ts';

export const QuerySchema = z.object({
  status: z.enum(['pending', 'approved', 'denied', 'consumed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const ApprovalDecisionSchema = z
  .object({ decision: z.enum(['approve', 'deny']), note: z.string().max(1000).optional() })
  .strict();

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerApprovals(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  app.get('/approvals', async (c) => {
    const q = QuerySchema.safeParse(c.req.query());
    if (!q.success)
      throw new ProblemError(
        400,
        'Invalid query',
        q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    const nowSec = nowSecOf(broker);
    const approvals = await broker.approvals.list(q.data.status, nowSec, q.data.limit);
    // A pending request past its expiry is not pending any more.
    const shown = approvals
      .filter((a) => q.data.status !== 'pending' || a.expires_at > nowSec)
      .map(({ intent_key: _k, ...a }) => a);
    return c.json({ approvals: shown });
  });
  app.post('/approvals/:id', async (c) => {
    const { decision, note } = await readJson(c, ApprovalDecisionSchema);
    const { intent_key: _k, ...decided } = await decideApproval(
      broker,
      c.req.param('id'),
      decision,
      note,
      c.var.admin,
    );
    return c.json(decided);
  });
}
