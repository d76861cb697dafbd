// Replacing the policy set in force: validate and store it, record who did, re-evaluate every live grant.
import type { PolicyProblem } from '../domain/policy-registry.ts';
import { type Broker, nowSecOf } from './broker.ts';

export type PolicyApplication =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly problems: PolicyProblem[] };

/**
 * Validates and stores `text` as the new set (the old one stays on failure), records the change
 * with the operator's id, and queues every live grant for re-evaluation now rather than at the
 * next sweep.
 */
export async function applyPolicy(
  broker: Broker,
  text: string,
  by: string,
): Promise<PolicyApplication> {
  const result = await broker.policy.replace(text, nowSecOf(broker));
  if (!result.ok) return result;
  await broker.decisions.record({
    kind: 'policy',
    outcome: 'replaced',
    reasons: [],
    policy_version: result.version,
    inputs: { by },
  });
  await broker.reevaluator.enqueueAll(`policy_change:v${result.version}`);
  return result;
}

/** One problem per place (Cedar may report a place once per check that failed there). */
export function distinctProblems(problems: readonly PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.column}:${p.policy_id ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
