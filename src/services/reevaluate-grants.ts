// Re-evaluation: decide live grants again with what is known now, and narrow, suspend or revoke them.

import type { Client } from '../domain/client.ts';
import {
  detectHardDrift,
  groupsChanged,
  judgePolicy,
  type Reevaluation,
  type Signal,
} from '../domain/drift.ts';
import { liveContext, summaryOfSignals } from '../domain/evaluation.ts';
import type { Grant } from '../domain/grant.ts';
import { pairsOf } from '../domain/intent.ts';
import type { PolicyDecider, UsageFacts } from '../domain/policy-facts.ts';
import type { PendingRecord } from '../domain/ports.ts';
import { requestApproval } from './approvals.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { cascadeToChildren, type ParentChange } from './cascade-delegation.ts';
import { createEventLoopYielder, type EventLoopYielder } from './event-loop-yielder.ts';
import { actionHistoriesByClient, factsOf, usageInputs } from './policy-facts-of.ts';

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
  // The same live context as an evaluation's (the agent's groups come from `agent`, not from it).
  const context = liveContext(grant, summaryOfSignals(signals));
  const pairs = policy.decide(
    factsOf(agent, grant.granted, context, nowSec, usage),
    pairsOf(grant.granted),
  );
  return judgePolicy(grant.granted, pairs, groupsChanged(grant, agent) ? ['groups_changed'] : []);
}

/**
 * One budget for every re-evaluation in this process: the worker's concurrent batch jobs, and
 * the API's inline re-evaluations, share one event loop.
 */
const processYielder = createEventLoopYielder();

export interface ReevaluationSummary {
  keep: number;
  narrow: number;
  suspend: number;
  revoke: number;
  missing: number;
  /** Grants that left the live index in this call (revoked, suspended, or found ended). */
  ended: number;
}

/** A summary with every count at zero, to add outcomes to. */
export const noReevaluations = (): ReevaluationSummary => ({
  keep: 0,
  narrow: 0,
  suspend: 0,
  revoke: 0,
  missing: 0,
  ended: 0,
});

/**
 * Re-evaluates the given grants and applies each outcome. Every change is conditional in Redis
 * (revoke only an unrevoked grant, narrow only the expected set, suspend only an active one), so
 * two workers on the same grant change it once and write one decision record.
 *
 * The worker shares its process with the API (`mandate start`), so deciding a batch hands the
 * event loop back every few ms (`yielder`) instead of holding every request for the whole batch.
 */
export async function reevaluateGrants(
  broker: Broker,
  ids: readonly string[],
  cause: string,
  yielder: EventLoopYielder = processYielder,
): Promise<ReevaluationSummary> {
  const summary = noReevaluations();
  const loaded = await broker.grants.getMany(ids);
  summary.missing = ids.length - loaded.length;
  const nowSec = nowSecOf(broker);
  // One instant for the batch: equal questions are answered once by the policy set's own decision cache.
  const policy = broker.policy.current();
  const active = loaded.filter((l) => l.grant.status === 'active').map((l) => l.grant);
  const [counters, histories] = await Promise.all([
    broker.usage.countersOf(
      loaded.map((l) => l.grant.id),
      nowSec,
    ),
    actionHistoriesByClient(broker.usage, policy.reads, active),
  ]);
  const parentsRevoked = await revokedParents(broker, active);
  const clients = new Map<string, Client | undefined>();
  for (const id of new Set(loaded.map((l) => l.grant.client_id)))
    clients.set(id, await broker.clients.get(id));
  const ended: string[] = [];
  const changes: Array<Promise<void>> = [];
  for (const [i, { grant, signals, pending }] of loaded.entries()) {
    // Between grants only (one grant's decision is bounded by limits.max_pairs_per_grant), and
    // never before the first, so re-evaluating one grant on a request path adds no turn.
    if (i > 0) await yielder.pause();
    // A change whose record a crashed worker never wrote: write it now, once.
    if (pending) changes.push(recoverRecord(broker, grant, pending, nowSec));
    if (grant.status !== 'active') {
      ended.push(grant.id);
      continue;
    }
    const usage = {
      calls_last_minute: counters[i]?.calls ?? 0,
      denied_last_hour: counters[i]?.denied ?? 0,
      used_actions: histories.get(grant.client_id),
    };
    const client = clients.get(grant.client_id);
    // A child whose parent was revoked (a cascade cut short by a crash) ends here.
    const result: Reevaluation = parentsRevoked.has(grant.delegation?.parent ?? '')
      ? { outcome: 'revoke', reasons: ['parent_revoked'] }
      : reevaluate(grant, client, signals, policy, nowSec, usage);
    if (result.outcome === 'keep') {
      summary.keep += 1;
      continue;
    }
    // Changes of different grants are independent: issue them together (ioredis pipelines them).
    changes.push(
      change(broker, grant, result, {
        cause,
        signals,
        usage,
        client,
        nowSec,
        policyVersion: policy.version,
      }).then((changed) => {
        summary[changed ? result.outcome : 'keep'] += 1;
        if (changed && result.outcome !== 'narrow') ended.push(grant.id);
      }),
    );
  }
  await Promise.all(changes);
  await broker.grants.dropFromLive(ended);
  summary.ended = ended.length;
  return summary;
}

/** The parents of delegated grants among `grants` that are revoked (one round trip, none when no grant is delegated). */
async function revokedParents(broker: Broker, grants: readonly Grant[]): Promise<Set<string>> {
  const ids = [...new Set(grants.map((g) => g.delegation?.parent).filter((p): p is string => !!p))];
  if (!ids.length) return new Set();
  const found = await broker.grants.getMany(ids);
  return new Set(found.filter((f) => f.grant.status === 'revoked').map((f) => f.grant.id));
}

interface ChangeContext {
  readonly cause: string;
  readonly signals: readonly Signal[];
  readonly usage: UsageFacts;
  readonly client: Client | undefined;
  readonly nowSec: number;
  readonly policyVersion: number;
}

/**
 * Applies one outcome and records it. The change and a marker naming its record land together;
 * the record's append clears the marker. A worker killed in between leaves the marker, and the
 * next sweep writes the record.
 */
async function change(
  broker: Broker,
  grant: Grant,
  result: Exclude<Reevaluation, { outcome: 'keep' }>,
  ctx: ChangeContext,
): Promise<boolean> {
  const pendingRecord = {
    id: broker.decisions.nextId(),
    outcome: result.outcome,
    reason: result.reasons[0] ?? 'reevaluation',
    at: ctx.nowSec,
  };
  if (!(await apply(broker, grant, result, ctx.policyVersion, ctx.nowSec, pendingRecord)))
    return false;
  await broker.decisions.record(
    {
      kind: 'reevaluation',
      outcome: result.outcome,
      reasons: result.reasons,
      client_id: grant.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      policy_version: ctx.policyVersion,
      inputs: {
        cause: ctx.cause,
        granted: grant.granted,
        ...(result.outcome === 'narrow' ? { narrowed_to: result.granted } : {}),
        signals: ctx.signals,
        usage: usageInputs(ctx.usage, grant.granted),
        agent: ctx.client ? { disabled: ctx.client.disabled, groups: ctx.client.groups } : null,
        now: ctx.nowSec,
      },
    },
    { id: pendingRecord.id, clearsPendingOf: grant.id },
  );
  broker.metrics.decision('reevaluation', result.outcome);
  await tell(broker, grant, result, ctx.client);
  await cascadeToChildren(broker, grant.id, parentChange(result));
  return true;
}

/** What a grant's re-evaluation outcome does to the grants delegated from it. */
function parentChange(result: Exclude<Reevaluation, { outcome: 'keep' }>): ParentChange {
  const reason = result.reasons[0] ?? 'reevaluation';
  return result.outcome === 'narrow'
    ? { kind: 'narrow', reason, granted: result.granted }
    : { kind: result.outcome, reason };
}

/**
 * How long a pending-record marker belongs to the worker that wrote it (s). Its record is appended
 * within milliseconds of the change; a sweep that reads the grant in between must not write a
 * second one, so only a marker older than this is taken for a crashed worker's.
 */
export const PENDING_RECORD_GRACE_SEC = 5;

async function recoverRecord(
  broker: Broker,
  grant: Grant,
  pending: PendingRecord,
  nowSec: number,
): Promise<void> {
  if (pending.at !== undefined && nowSec - pending.at < PENDING_RECORD_GRACE_SEC) return;
  const next = { ...pending, id: broker.decisions.nextId(), at: nowSec };
  if (!(await broker.grants.claimPending(grant.id, pending.id, next))) return;
  await broker.decisions.record(
    {
      kind: 'reevaluation',
      outcome: pending.outcome,
      reasons: [pending.reason, 'recorded_after_worker_crash'],
      client_id: grant.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      policy_version: grant.policy_version,
      inputs: { cause: 'recovery', status: grant.status, granted: grant.granted },
    },
    { id: next.id, clearsPendingOf: grant.id },
  );
}

/** Applies an outcome conditionally; true when this call changed the grant. */
async function apply(
  broker: Broker,
  grant: Grant,
  result: Reevaluation,
  policyVersion: number,
  nowSec: number,
  pending: PendingRecord,
): Promise<boolean> {
  switch (result.outcome) {
    case 'keep':
      return false;
    case 'narrow':
      return broker.grants.narrow(
        grant.id,
        grant.granted,
        result.granted,
        policyVersion,
        nowSec,
        pending,
      );
    case 'suspend':
      return broker.grants.suspend(grant.id, pending.reason, pending);
    case 'revoke': {
      const { revoked, tokens } = await broker.grants.revokeGrant(
        grant.id,
        pending.reason,
        nowSec,
        pending,
      );
      if (revoked) broker.metrics.revocation('reevaluation', tokens);
      return revoked;
    }
  }
}

/** Tells resource servers, and opens the approval that can resume a suspended grant. */
async function tell(
  broker: Broker,
  grant: Grant,
  result: Reevaluation,
  client: Client | undefined,
): Promise<void> {
  const reason = result.reasons[0] ?? 'reevaluation';
  if (result.outcome === 'narrow') await broker.notifier.narrowed(grant, result.granted, reason);
  if (result.outcome === 'revoke' || result.outcome === 'suspend')
    await broker.notifier.revoked(grant, reason);
  if (result.outcome === 'suspend' && client) {
    await requestApproval(broker, {
      kind: 'resume',
      client,
      intent: grant.granted,
      pairs: result.pairs,
      grant,
    });
  }
}
