// /admin/grants: live grants by client, task or status, and one grant with its decision history.
import { z } from 'zod';
import { ActClaimSchema } from '../../domain/delegation.ts';
import { ProblemError } from '../../domain/errors.ts';
import { AuthorizationDetailsSchema } from '../../domain/wire/oauth.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { HttpDeps } from '../http-deps.ts';
import { jsonReply, pathParameter, problemReply, queryParameters } from '../openapi.ts';
import { readQuery } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';
import { DECISION_EXAMPLE, DecisionRecordSchema, SharedInputsSchema } from './schemas.ts';

export const QuerySchema = z.object({
  client_id: z.string().max(200).optional(),
  task_id: z.string().max(200).optional(),
  status: z.enum(['active', 'suspended', 'revoked']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const GrantSchema = z
  .object({
    id: z.string(),
    client_id: z.string(),
    task_id: z.string(),
    status: z.enum(['active', 'suspended', 'revoked']),
    requested: AuthorizationDetailsSchema,
    granted: AuthorizationDetailsSchema,
    context: z.record(z.string(), z.unknown()),
    policy_version: z.number().int(),
    created_at: z.number().int(),
    expires_at: z.number().int(),
    reason: z.string().optional().describe('why it was suspended or revoked'),
    delegation: z
      .object({
        subject: z.string().describe("its tokens' sub: the person or agent acted for"),
        act: ActClaimSchema,
        parent: z.string().optional(),
      })
      .optional()
      .describe('RFC 8693: present on a grant from a token exchange or an ID-JAG'),
  })
  .loose()
  .meta({ id: 'Grant' });

const TASK = {
  type: 'agent_task' as const,
  task_id: 'task-42',
  actions: ['read'],
  locations: ['https://files.example.com/invoices/'],
};
const GRANT_EXAMPLE = {
  id: 'g_01HZY3K9Q4W8',
  client_id: 'agent-1',
  task_id: 'task-42',
  status: 'active' as const,
  requested: [TASK],
  granted: [TASK],
  context: { ip: '203.0.113.7' },
  policy_version: 3,
  created_at: 1767225600,
  expires_at: 1767229200,
};

const listGrantsRoute = adminRoute('grants:read', {
  method: 'get',
  path: '/grants',
  tags: ['Admin: grants'],
  summary: 'List grants',
  description: 'Grants by client, task or status.',
  parameters: queryParameters(QuerySchema),
  responses: {
    200: jsonReply(
      'the grants',
      z.object({ grants: z.array(GrantSchema) }).meta({ id: 'GrantList' }),
      { grants: [GRANT_EXAMPLE] },
    ),
    400: problemReply('invalid query'),
  },
});

const showGrantRoute = adminRoute('grants:read', {
  method: 'get',
  path: '/grants/{id}',
  tags: ['Admin: grants'],
  summary: 'Show a grant with its decision history',
  description:
    'The grant (requested and granted intent, context, status and reason), its delegation (`parent`, `children`: grants handed on by token exchange, which end and narrow with it) and every decision record about it: the history explains why it was narrowed, suspended or revoked.',
  parameters: [pathParameter('id', 'grant id')],
  responses: {
    200: jsonReply(
      'the grant and its history',
      GrantSchema.extend({
        parent: z
          .string()
          .optional()
          .describe('the grant this one was delegated from (token exchange)'),
        children: z
          .array(z.string())
          .describe(
            'ids of the grants delegated from this one; they are revoked, suspended or narrowed with it',
          ),
        history: z.array(DecisionRecordSchema),
        shared_inputs: SharedInputsSchema,
      }).meta({ id: 'GrantWithHistory' }),
      { ...GRANT_EXAMPLE, children: [], history: [DECISION_EXAMPLE], shared_inputs: {} },
    ),
    404: problemReply('no such grant'),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerGrants(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  app.openapi(listGrantsRoute, async (c) => {
    const query = readQuery(c, QuerySchema);
    return c.json({ grants: await broker.grants.list(query, nowSecOf(broker)) });
  });
  app.openapi(showGrantRoute, async (c) => {
    const id = c.req.param('id');
    const grant = id.length <= 200 ? await broker.grants.get(id) : undefined;
    if (!grant) throw new ProblemError(404, 'Grant not found', `no grant ${id.slice(0, 200)}`);
    const { refresh_hash: _r, used_refresh_hashes: _u, ...shown } = grant;
    const [history, [children = []]] = await Promise.all([
      broker.decisions.list({ grant_id: id, limit: 1000 }),
      broker.grants.childrenOf([id]),
    ]);
    return c.json({
      ...shown,
      ...(grant.delegation?.parent ? { parent: grant.delegation.parent } : {}),
      children,
      history,
      shared_inputs: await broker.decisions.sharedInputs(history),
    });
  });
}
