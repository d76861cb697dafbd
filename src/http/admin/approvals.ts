// /admin/approvals: pending human approvals, and an approver's decision on one.
import { z } from 'zod';
import { ApprovalListSchema, ApprovalViewSchema } from '../../domain/wire/admin.ts';
import { decideApproval, listApprovals, showApproval } from '../../services/approvals.ts';
import type { HttpDeps } from '../http-deps.ts';
import {
  ADMIN_BODY_ERRORS,
  jsonReply,
  pathParameter,
  problemReply,
  queryParameters,
  requestBody,
} from '../openapi.ts';
import { readJson, readQuery } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

export const QuerySchema = z.object({
  status: z.enum(['pending', 'approved', 'denied', 'consumed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const ApprovalDecisionSchema = z
  .object({ decision: z.enum(['approve', 'deny']), note: z.string().max(1000).optional() })
  .strict();

const APPROVAL_EXAMPLE = {
  id: 'ar_01HZY3KF0A9V',
  kind: 'mint',
  client_id: 'agent-1',
  task_id: 'task-42',
  intent: [
    {
      type: 'agent_task' as const,
      task_id: 'task-42',
      actions: ['pay'],
      locations: ['https://pay.example.com/invoices/'],
    },
  ],
  pairs: [
    { action: 'pay', location: 'https://pay.example.com/invoices/', reasons: ['needs-approval'] },
  ],
  status: 'pending' as const,
  created_at: 1767225600,
  expires_at: 1767226200,
  interval: 5,
  requested: [
    {
      type: 'agent_task' as const,
      task_id: 'task-42',
      actions: ['pay'],
      locations: ['https://pay.example.com/invoices/'],
    },
  ],
  reasons: ['needs-approval'],
  link: 'https://mandate.example.com/console/approvals/ar_01HZY3KF0A9V',
};

const showApprovalRoute = adminRoute('approvals:read', {
  method: 'get',
  path: '/approvals/{id}',
  tags: ['Admin: approvals'],
  summary: 'Show an approval request',
  description:
    'One request with its full intent (agent, task, purpose, pairs, the policies that asked for a human, expiry) and, once decided, who decided it.',
  parameters: [pathParameter('id', 'approval id (the auth_req_id)')],
  responses: {
    200: jsonReply('the request', ApprovalViewSchema, APPROVAL_EXAMPLE),
    404: problemReply('no such approval request'),
  },
});

const listApprovalsRoute = adminRoute('approvals:read', {
  method: 'get',
  path: '/approvals',
  tags: ['Admin: approvals'],
  summary: 'Approval requests',
  description: 'Tasks that policy sent to a human (`@remedy("approval")`).',
  parameters: queryParameters(QuerySchema),
  responses: {
    200: jsonReply('the requests', ApprovalListSchema, { approvals: [APPROVAL_EXAMPLE] }),
    400: problemReply('invalid query'),
  },
});

const decideApprovalRoute = adminRoute('approvals:decide', {
  method: 'post',
  path: '/approvals/{id}',
  tags: ['Admin: approvals'],
  summary: 'Decide an approval request',
  description: 'The polling agent then gets its token (approve) or access_denied (deny).',
  parameters: [pathParameter('id', 'approval id (the auth_req_id)')],
  responses: {
    200: jsonReply('the decided request', ApprovalViewSchema, {
      ...APPROVAL_EXAMPLE,
      status: 'approved',
      decided_by: 'op_Zk3Qw9Xr2LmP',
      decided_at: 1767225660,
      note: 'ok for this invoice run',
    }),
    ...ADMIN_BODY_ERRORS,
    404: problemReply('no such approval request'),
    409: problemReply('already decided'),
    410: problemReply('the request expired before a decision'),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerApprovals(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  const body = requestBody(app, 'ApprovalDecision', ApprovalDecisionSchema, 'application/json', {
    decision: 'approve',
    note: 'ok for this invoice run',
  });
  app.openapi(listApprovalsRoute, async (c) => {
    const query = readQuery(c, QuerySchema);
    return c.json(await listApprovals(broker, query.status, query.limit));
  });
  app.openapi(showApprovalRoute, async (c) =>
    c.json(await showApproval(broker, c.req.param('id')), 200),
  );
  app.openapi({ ...decideApprovalRoute, request: { body } }, async (c) => {
    const { decision, note } = await readJson(c, ApprovalDecisionSchema);
    return c.json(
      await decideApproval(broker, c.req.param('id'), decision, note, c.var.operator.id),
    );
  });
}
