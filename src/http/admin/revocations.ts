// POST /admin/revocations: revoke by jti, grant, task or client; returns what it revoked.
import { z } from 'zod';
import { RevocationResultSchema } from '../../domain/wire/admin.ts';
import { type RevocationTarget, revokeByAdmin } from '../../services/revoke.ts';
import type { HttpDeps } from '../http-deps.ts';
import { ADMIN_BODY_ERRORS, jsonReply, requestBody } from '../openapi.ts';
import { readJson } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

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

const revocationsRoute = adminRoute('grants:revoke', {
  method: 'post',
  path: '/revocations',
  tags: ['Admin: grants'],
  summary: 'Revoke by token, grant, task or client',
  description:
    'Exactly one of jti, grant_id, task_id, client_id. When the call returns every broker process already refuses what it revoked.',
  responses: {
    200: jsonReply('what was revoked', RevocationResultSchema, {
      revoked: { grants: 1, tokens: 2 },
    }),
    ...ADMIN_BODY_ERRORS,
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerRevocations(app: AdminApp, deps: HttpDeps): void {
  const body = requestBody(app, 'RevocationRequest', RevocationRequestSchema, 'application/json', {
    grant_id: 'g_01HZY3K9Q4W8',
    reason: 'task cancelled by its owner',
  });
  app.openapi({ ...revocationsRoute, request: { body } }, async (c) => {
    const { reason, ...rest } = await readJson(c, RevocationRequestSchema);
    const target = Object.fromEntries(
      Object.entries(rest).filter(([, v]) => v !== undefined),
    ) as RevocationTarget;
    return c.json(await revokeByAdmin(deps.broker, target, reason, c.var.operator.id), 200);
  });
}
