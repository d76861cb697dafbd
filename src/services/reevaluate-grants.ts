// Re-evaluation: decide live grants again with what is known now, and narrow, suspend or revoke them.
import { type Reevaluation, detectHardDrift, groupsChanged, judgePolicy, latestIp, latestRisk, type Signal } from '../domain/drift.ts';
import type { Client } from '../domain/client.ts';
import type { Grant } from '../domain/grant.ts';
import { pairsOf } from '../domain/intent.ts';
import type { PolicyDecider, UsageFacts } from '../domain/policy-facts.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { requestApproval } from './approvals.ts';
import { factsOf } from './policy-facts-of.ts';

/** Decides one grant again: hard drift first (no policy needed), then the policy detector. Pure. */
export function reevaluate(
  grant: Grant,
  client: Client | undefined,
  signals: readonly Signal[],
  policy: PolicyDecider,
  nowSec: number,
  usage: UsageFacts = { calls_last_minute: 0, denied_last_hour: 0 },
): Reevaluation {
  const hard = detectHardDrift(grant, client, signals, nowSec);
  if (hard) return { outcome: 'revoke', reasons: [hard] };
  const agent = client as Client;
  const context = {
    ...grant.context,
    ip: latestIp(grant, signals),
    risk: latestRisk(grant, signals),
    signals: [...new Set([...grant.context.signals, ...signals.map((s) => s.type)])],
    groups: [...agent.groups],
  };
  const pairs = policy.decide(factsOf(agent, grant.granted, context, nowSec, usage), pairsOf(grant.granted));
  return judgePolicy(grant.granted, pairs, groupsChanged(grant, agent) ? ['groups_changed'] : []);
}

export interface ReevaluationSummary {
  keep: number;
  narrow: number;
  suspend: number;
  revoke: number;
  missing: number;
}

/**
 * Re-evaluates the given grants and applies each outcome. Every change is conditional in Redis
 * (revoke only an unrevoked grant, narrow only the expected set, suspend only an active one), so
 * two workers on the same grant change it once and write one decision record.
 */
export async function reevaluateGrants(broker: Broker, ids: readonly string[], cause: string): Promise<ReevaluationSummary> {
  const summary: ReevaluationSummary = { keep: 0, narrow: 0, suspend: 0, revoke: 0, missing: 0 };
  const loaded = await broker.grants.getMany(ids);
  summary.missing = ids.length - loaded.length;
  const policy = broker.policy.current();
  const nowSec = nowSecOf(broker);
  const counters = await broker.usage.countersOf(loaded.map((l) => l.grant.id), nowSec);
  const clients = new Map<string, Client | undefined>();
  for (const [i, { grant, signals }] of loaded.entries()) {
    if (grant.status !== 'active') continue;
    const usage = { calls_last_minute: counters[i]?.calls ?? 0, denied_last_hour: counters[i]?.denied ?? 0 };
    if (!clients.has(grant.client_id)) clients.set(grant.client_id, await broker.clients.get(grant.client_id));
    const client = clients.get(grant.client_id);
    const result = reevaluate(grant, client, signals, policy, nowSec, usage);
    const changed = await apply(broker, grant, result, policy.version, nowSec);
    summary[result.outcome === 'keep' || changed ? result.outcome : 'keep'] += 1;
    if (result.outcome === 'keep' || !changed) continue;
    await broker.decisions.record({
      kind: 'reevaluation',
      outcome: result.outcome,
      reasons: result.reasons,
      client_id: grant.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      policy_version: policy.version,
      inputs: {
        cause,
        granted: grant.granted,
        ...(result.outcome === 'narrow' ? { narrowed_to: result.granted } : {}),
        signals,
        usage,
        agent: client ? { disabled: client.disabled, groups: client.groups } : null,
        now: nowSec,
      },
    });
    broker.metrics.decision('reevaluation', result.outcome);
  }
  return summary;
}

async function apply(broker: Broker, grant: Grant, result: Reevaluation, policyVersion: number, nowSec: number): Promise<boolean> {
  switch (result.outcome) {
    case 'keep':
      return false;
    case 'narrow': {
      const narrowed = await broker.grants.narrow(grant.id, grant.granted, result.granted, policyVersion, nowSec);
      if (narrowed) await broker.notifier.narrowed(grant, result.granted, result.reasons[0] ?? 'reevaluation');
      return narrowed;
    }
    case 'suspend': {
      const suspended = await broker.grants.suspend(grant.id, result.reasons[0] ?? 'approval_required');
      if (suspended) {
        await broker.notifier.revoked(grant, result.reasons[0] ?? 'approval_required');
        // An approver can resume it: the approval covers the grant's current intent.
        const client = await broker.clients.get(grant.client_id);
        if (client) await requestApproval(broker, { kind: 'resume', client, intent: grant.granted, pairs: result.pairs, grant });
      }
      return suspended;
    }
    case 'revoke': {
      const { revoked, tokens } = await broker.grants.revokeGrant(grant.id, result.reasons[0] ?? 'reevaluation', nowSec);
      if (revoked) {
        broker.metrics.revocation('reevaluation', tokens);
        await broker.notifier.revoked(grant, result.reasons[0] ?? 'reevaluation');
      }
      return revoked;
    }
  }
}
