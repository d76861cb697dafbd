// /admin/policies: the Cedar policy set in force, and replacing it (validated; the old set stays on error).
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { nowSecOf } from '../../services/broker.ts';
import { simulatePolicy } from '../../services/simulate-policy.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readJson } from '../read-body.ts';
import type { AdminApp } from './admin-auth.ts';

export const PolicyRequestSchema = z
  .object({ policies: z.string().min(1).max(1_000_000) })
  .strict();

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerPolicies(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  app.get('/policies', (c) => {
    const stored = broker.policy.stored();
    if (!stored) throw new ProblemError(503, 'No policy loaded');
    return c.json({
      version: stored.version,
      sha256: stored.sha256,
      updated_at: stored.updated_at,
      policies: stored.text,
    });
  });
  app.put('/policies', async (c) => {
    const { policies } = await readJson(c, PolicyRequestSchema);
    const result = await broker.policy.replace(policies, nowSecOf(broker));
    if (!result.ok) {
      const first = result.problems[0];
      throw new ProblemError(
        400,
        'Invalid policy set',
        first ? `line ${first.line}, column ${first.column}: ${first.message}` : 'invalid',
        dedupe(result.problems),
      );
    }
    await broker.decisions.record({
      kind: 'policy',
      outcome: 'replaced',
      reasons: [],
      policy_version: result.version,
      inputs: { by: c.var.admin },
    });
    // Every live grant is decided again against the new version, now rather than at the next sweep.
    await broker.reevaluator.enqueueAll(`policy_change:v${result.version}`);
    return c.json({ version: result.version });
  });
  app.post('/policies/simulate', async (c) => {
    const { policies } = await readJson(c, PolicyRequestSchema);
    const result = await simulatePolicy(broker, policies);
    if (!result.ok) {
      const first = result.problems[0];
      throw new ProblemError(
        400,
        'Invalid policy set',
        first ? `line ${first.line}, column ${first.column}: ${first.message}` : 'invalid',
        dedupe(result.problems),
      );
    }
    const { ok: _ok, ...report } = result;
    return c.json({ policy_version_in_force: broker.policy.current().version, ...report });
  });
}

function dedupe(
  problems: Array<{
    line: number;
    column: number;
    message: string;
    policy_id?: string | undefined;
  }>,
) {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = `${p.line}:${p.column}:${p.policy_id ?? ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((p) => ({
      path: `line ${p.line}, column ${p.column}`,
      message: p.message,
      line: p.line,
      column: p.column,
      policy_id: p.policy_id,
    }));
}
