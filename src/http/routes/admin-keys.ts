// POST /admin/keys/rotate: a new signing key; the old one verifies until its tokens have expired.
import { Hono } from 'hono';
import type { AdminEnv } from '../admin-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';

export function adminKeyRoutes(deps: HttpDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.onError((err, c) => renderProblem(c, err, deps.log));
  app.post('/admin/keys/rotate', async (c) => {
    const kid = await deps.keyRing.rotate();
    await deps.broker.decisions.record({
      kind: 'policy',
      outcome: 'key_rotated',
      reasons: [],
      inputs: { by: c.var.admin, kid },
    });
    return c.json({ kid });
  });
  return app;
}
