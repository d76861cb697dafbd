// Stores a grant the way a mint does, for the sweep and memory benchmarks: its mint record, the grant right behind it.
import type { Grant } from '../../src/domain/grant.ts';
import type { DecisionRecord } from '../../src/domain/decision-record.ts';
import type { DecisionLog, GrantStore, IssuedToken } from '../../src/domain/ports.ts';

/** The grant store refuses a grant whose mint record has not landed, so seeding writes both. */
export function seedGrant(
  broker: { readonly grants: GrantStore; readonly decisions: DecisionLog },
  grant: Grant,
  token: IssuedToken,
  refreshHash: string,
): Promise<DecisionRecord> {
  return broker.decisions.record(
    {
      kind: 'mint',
      outcome: 'permit',
      reasons: ['bench seed'],
      client_id: grant.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      policy_version: grant.policy_version,
      inputs: { granted: grant.granted, jti: token.jti },
    },
    { followedBy: () => broker.grants.create(grant, token, refreshHash) },
  );
}
