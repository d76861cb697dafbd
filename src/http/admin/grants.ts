// /admin/grants: live grants by client, task or status, and one grant with its decision history.
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { HttpDeps } from '../http-deps.ts';
import type { AdminApp } from './admin-auth.ts';

export const QuerySchema = z.object({
  client_id: z.string().max(200).optional(),
  task_id: z.string().max(200).optional(),
  status: z.enum(['active', 'suspended', 'revoked']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerGrants(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  app.get('/grants', async (c) => {
    const q = QuerySchema.safeParse(c.req.query());
    if (!q.success)
      throw new ProblemError(
        400,
        'Invalid query',
        q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return c.json({ grants: await broker.grants.list(q.data, nowSecOf(broker)) });
  });
  app.get('/grants/:id', async (c) => {
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
}
