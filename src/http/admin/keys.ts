// POST /admin/keys/rotate: a new signing key; the old one verifies until its tokens have expired.

import type { HttpDeps } from '../http-deps.ts';
import type { AdminApp } from './admin-auth.ts';

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerKeys(app: AdminApp, deps: HttpDeps): void {
  app.post('/keys/rotate', async (c) => {
    const kid = await deps.keyRing.rotate();
    await deps.broker.decisions.record({
      kind: 'policy',
      outcome: 'key_rotated',
      reasons: [],
      inputs: { by: c.var.admin, kid },
    });
    return c.json({ kid });
  });
}
