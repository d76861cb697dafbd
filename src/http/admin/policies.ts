// /admin/policies: the Cedar policy set in force, and replacing it (validated; the old set stays on error).
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import type { PolicyProblem } from '../../domain/policy-registry.ts';
import { applyPolicy, distinctProblems } from '../../services/apply-policy.ts';
import { simulatePolicy } from '../../services/simulate-policy.ts';
import type { HttpDeps } from '../http-deps.ts';
import { ADMIN_BODY_ERRORS, jsonReply, requestBody } from '../openapi.ts';
import { readJson } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

export const PolicyRequestSchema = z
  .object({ policies: z.string().min(1).max(1_000_000) })
  .strict();

const TAGS = ['Admin: policy'];

const SimulatedChangeSchema = z.object({
  grant_id: z.string(),
  client_id: z.string(),
  task_id: z.string(),
  reasons: z.array(z.string()),
  granted: z.unknown().optional().describe('narrow: what the grant would keep'),
});
const POLICY_EXAMPLE =
  '@id("allow-read")\npermit (principal, action == Action::"read", resource);\n';

const showPolicyRoute = adminRoute('policies:read', {
  method: 'get',
  path: '/policies',
  tags: TAGS,
  summary: 'The policy set in force',
  description: 'Cedar text, version and hash.',
  responses: {
    200: jsonReply(
      'the policy set',
      z
        .object({
          version: z.number().int(),
          sha256: z.string(),
          updated_at: z.number().int(),
          policies: z.string(),
        })
        .meta({ id: 'PolicySet' }),
      {
        version: 3,
        sha256: 'q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c',
        updated_at: 1767225600,
        policies: POLICY_EXAMPLE,
      },
    ),
  },
});

const replacePolicyRoute = adminRoute('policies:write', {
  method: 'put',
  path: '/policies',
  tags: TAGS,
  summary: 'Replace the policy set',
  description:
    'Validated against the Cedar schema; 400 with line and column when it does not parse or validate (the old set stays in force). Every live grant is re-evaluated against the new version.',
  responses: {
    200: jsonReply(
      'the new version',
      z.object({ version: z.number().int() }).meta({ id: 'PolicyVersion' }),
      { version: 4 },
    ),
    ...ADMIN_BODY_ERRORS,
  },
});

const simulatePolicyRoute = adminRoute('policies:simulate', {
  method: 'post',
  path: '/policies/simulate',
  tags: TAGS,
  summary: 'Dry-run a policy set',
  description: 'What the new set would narrow or revoke among live grants, changing nothing.',
  responses: {
    200: jsonReply(
      'what would change',
      z
        .object({
          policy_version_in_force: z.number().int(),
          counts: z.object({
            keep: z.number().int(),
            narrow: z.number().int(),
            suspend: z.number().int(),
            revoke: z.number().int(),
          }),
          narrow: z.array(SimulatedChangeSchema),
          suspend: z.array(SimulatedChangeSchema),
          revoke: z.array(SimulatedChangeSchema),
        })
        .meta({
          id: 'PolicySimulation',
          description: 'what the new set would narrow, suspend or revoke among live grants',
        }),
      {
        policy_version_in_force: 3,
        counts: { keep: 11, narrow: 1, suspend: 0, revoke: 0 },
        narrow: [
          {
            grant_id: 'g_01HZY3K9Q4W8',
            client_id: 'agent-1',
            task_id: 'task-42',
            reasons: ['forbid-write-invoices'],
          },
        ],
        suspend: [],
        revoke: [],
      },
    ),
    ...ADMIN_BODY_ERRORS,
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerPolicies(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  const body = requestBody(app, 'PolicyRequest', PolicyRequestSchema, 'application/json', {
    policies: POLICY_EXAMPLE,
  });
  app.openapi(showPolicyRoute, (c) => {
    const stored = broker.policy.stored();
    if (!stored) throw new ProblemError(503, 'No policy loaded');
    return c.json({
      version: stored.version,
      sha256: stored.sha256,
      updated_at: stored.updated_at,
      policies: stored.text,
    });
  });
  app.openapi({ ...replacePolicyRoute, request: { body } }, async (c) => {
    const { policies } = await readJson(c, PolicyRequestSchema);
    const result = await applyPolicy(broker, policies, c.var.operator.id);
    if (!result.ok) throw invalidPolicy(result.problems);
    return c.json({ version: result.version }, 200);
  });
  app.openapi({ ...simulatePolicyRoute, request: { body } }, async (c) => {
    const { policies } = await readJson(c, PolicyRequestSchema);
    const result = await simulatePolicy(broker, policies);
    if (!result.ok) throw invalidPolicy(result.problems);
    const { ok: _ok, ...report } = result;
    return c.json({ policy_version_in_force: broker.policy.current().version, ...report }, 200);
  });
}

/** 400 problem+json locating the first problem, every distinct one in `errors`. */
function invalidPolicy(problems: PolicyProblem[]): ProblemError {
  const first = problems[0];
  return new ProblemError(
    400,
    'Invalid policy set',
    first ? `line ${first.line}, column ${first.column}: ${first.message}` : 'invalid',
    distinctProblems(problems).map((p) => ({
      path: `line ${p.line}, column ${p.column}`,
      message: p.message,
      line: p.line,
      column: p.column,
      policy_id: p.policy_id,
    })),
  );
}
