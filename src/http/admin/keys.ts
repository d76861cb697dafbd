// POST /admin/keys/rotate: a new signing key; the old one verifies until its tokens have expired.
import { z } from 'zod';
import type { HttpDeps } from '../http-deps.ts';
import { jsonReply } from '../openapi.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

const rotateRoute = adminRoute('keys:rotate', {
  method: 'post',
  path: '/keys/rotate',
  tags: ['Admin: keys'],
  summary: 'Rotate the signing key',
  description: 'A new signing key; the old one keeps verifying until its tokens have expired.',
  responses: {
    200: jsonReply('the new key id', z.object({ kid: z.string() }).meta({ id: 'KeyRotated' }), {
      kid: 'k_2026-12-05',
    }),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerKeys(app: AdminApp, deps: HttpDeps): void {
  app.openapi(rotateRoute, async (c) => {
    const kid = await deps.keyRing.rotate();
    await deps.broker.decisions.record({
      kind: 'policy',
      outcome: 'key_rotated',
      reasons: [],
      inputs: { by: c.var.operator.id, kid },
    });
    return c.json({ kid }, 200);
  });
}
