// /admin/tokens: operator tokens with roles: create (the token shown once), list (never the token), revoke.
import { z } from 'zod';
import { BOOTSTRAP_OPERATOR, OperatorTokenInputSchema, RoleSchema } from '../../domain/operator.ts';
import {
  createOperatorToken,
  listOperatorTokens,
  revokeOperatorToken,
} from '../../services/manage-operators.ts';
import type { HttpDeps } from '../http-deps.ts';
import {
  ADMIN_BODY_ERRORS,
  jsonReply,
  pathParameter,
  problemReply,
  requestBody,
} from '../openapi.ts';
import { readJson } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

const OperatorTokenSchema = z
  .object({
    id: z.string().describe('what decision records and approvals name as `by` / `decided_by`'),
    name: z.string(),
    roles: z.array(RoleSchema),
    created_at: z.number().int().optional(),
    expires_at: z.number().int().nullable().describe('epoch seconds; null: does not expire'),
    created_by: z.string().optional(),
    configured: z
      .boolean()
      .optional()
      .describe('true for the bootstrap credential set by MANDATE_ADMIN_TOKEN'),
  })
  .meta({ id: 'OperatorToken' });

const TOKEN_EXAMPLE = {
  id: 'op_Zk3Qw9Xr2LmP',
  name: 'on-call approver',
  roles: ['approver' as const],
  created_at: 1767225600,
  expires_at: 1767830400,
  created_by: 'bootstrap',
};
const TAGS = ['Admin: operators'];

const createTokenRoute = adminRoute('operators:write', {
  method: 'post',
  path: '/tokens',
  tags: TAGS,
  summary: 'Create an operator token',
  description:
    'A bearer token for the admin API with the given roles (`admin` everything; `approver` reads approvals, grants and decisions and decides approvals; `auditor` reads everything and verifies the audit chain; `viewer` reads clients, grants and approvals). The `token` is returned once; only its SHA-256 is kept. `ttl` in seconds (60 to 366 days); without it the token does not expire.',
  responses: {
    201: jsonReply(
      'created',
      OperatorTokenSchema.extend({
        token: z.string().describe('shown once; only its hash is kept'),
      }).meta({ id: 'OperatorTokenCreated' }),
      { ...TOKEN_EXAMPLE, token: 'mat_q2W8vTz0Jd7Lr4Kx9sYb1NfC3mHg5pQa6uE0iRt2wOk' },
    ),
    ...ADMIN_BODY_ERRORS,
  },
});

const listTokensRoute = adminRoute('operators:read', {
  method: 'get',
  path: '/tokens',
  tags: TAGS,
  summary: 'List operator tokens',
  description:
    'Every live operator token (never the token nor its hash), and the configured bootstrap credential when MANDATE_ADMIN_TOKEN is set.',
  responses: {
    200: jsonReply(
      'the tokens',
      z.object({ tokens: z.array(OperatorTokenSchema) }).meta({ id: 'OperatorTokenList' }),
      { tokens: [TOKEN_EXAMPLE] },
    ),
  },
});

const revokeTokenRoute = adminRoute('operators:write', {
  method: 'delete',
  path: '/tokens/{id}',
  tags: TAGS,
  summary: 'Revoke an operator token',
  description:
    'From the moment this returns, every Mandate process refuses the token (each admin call reads its record from Redis; nothing is cached).',
  parameters: [pathParameter('id', 'operator token id')],
  responses: {
    200: jsonReply(
      'revoked',
      z.object({ revoked: z.string() }).meta({ id: 'OperatorTokenRevoked' }),
      { revoked: 'op_Zk3Qw9Xr2LmP' },
    ),
    404: problemReply('no such operator token'),
    409: problemReply('the bootstrap credential is configured, not stored'),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerTokens(app: AdminApp, deps: HttpDeps) {
  const { broker } = deps;
  const body = requestBody(
    app,
    'OperatorTokenInput',
    OperatorTokenInputSchema,
    'application/json',
    {
      name: 'on-call approver',
      roles: ['approver'],
      ttl: 604800,
    },
  );
  app.openapi({ ...createTokenRoute, request: { body } }, async (c) =>
    c.json(
      await createOperatorToken(
        broker,
        await readJson(c, OperatorTokenInputSchema),
        c.var.operator,
      ),
      201,
      { 'Cache-Control': 'no-store' },
    ),
  );
  app.openapi(listTokensRoute, async (c) => {
    const stored = await listOperatorTokens(broker);
    const configured = deps.bootstrapConfigured
      ? [
          {
            ...BOOTSTRAP_OPERATOR,
            roles: [...BOOTSTRAP_OPERATOR.roles],
            expires_at: null,
            configured: true,
          },
        ]
      : [];
    return c.json({ tokens: [...configured, ...stored] }, 200);
  });
  app.openapi(revokeTokenRoute, async (c) =>
    c.json(await revokeOperatorToken(broker, c.req.param('id'), c.var.operator), 200),
  );
}
