// /admin/grants: live grants by client, task or status, and one grant with its decision history.
import { Hono } from 'hono';
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { AdminEnv } from '../admin-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';

export const QuerySchema = z.object({
  client_id: z.string().max(200).optional(),
  task_id: z.string().max(200).optional(),
  status: z.enum(['active', 'suspended', 'revoked']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function adminGrantRoutes(deps: HttpDeps): Hono<AdminEnv> {
  const { broker } = deps;
  const app = new Hono<AdminEnv>();
  app.onError((err, c) => renderProblem(c, err, deps.log));
  app.get('/admin/grants', async (c) => {
    const q = QuerySchema.safeParse(c.req.query());
    if (!q.success)
      throw new ProblemError(
        400,
        'Invalid query',
        q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return c.json({ grants: await broker.grants.list(q.data, nowSecOf(broker)) });
  });
  app.get('/admin/grants/:id', async (c) => {
    const id = c.req.param('id');
    const grant = id.length <= 200 ? await broker.grants.get(id) : undefined;
    if (!grant) throw new ProblemError(404, 'Grant not found', `no grant ${id.slice(0, 200)}`);
    const { refresh_hash: _r, used_refresh_hashes: _u, ...shown } = grant;
    const history = await broker.decisions.list({ grant_id: id, limit: 1000 });
    return c.json({
      ...shown,
      history,
      shared_inputs: await broker.decisions.sharedInputs(history),
    });
  });
  return app;
}
