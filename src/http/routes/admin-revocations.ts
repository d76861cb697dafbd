// POST /admin/revocations: revoke by jti, grant, task or client; returns what it revoked.
import { Hono } from 'hono';
import { z } from 'zod';
import { type RevocationTarget, revokeByAdmin } from '../../services/revoke.ts';
import type { AdminEnv } from '../admin-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';
import { readJson } from '../read-body.ts';

const Id = z.string().min(1).max(200);

export const RevocationRequestSchema = z
  .object({
    jti: Id.optional(),
    grant_id: Id.optional(),
    task_id: Id.optional(),
    client_id: Id.optional(),
    reason: z.string().min(1).max(500),
  })
  .strict()
  .refine(
    (r) => [r.jti, r.grant_id, r.task_id, r.client_id].filter((v) => v !== undefined).length === 1,
    {
      message: 'give exactly one of jti, grant_id, task_id, client_id',
    },
  );

export function adminRevocationRoutes(deps: HttpDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.onError((err, c) => renderProblem(c, err, deps.log));
  app.post('/admin/revocations', async (c) => {
    const { reason, ...rest } = await readJson(c, RevocationRequestSchema);
    const target = Object.fromEntries(
      Object.entries(rest).filter(([, v]) => v !== undefined),
    ) as RevocationTarget;
    return c.json(await revokeByAdmin(deps.broker, target, reason, c.var.admin));
  });
  return app;
}
