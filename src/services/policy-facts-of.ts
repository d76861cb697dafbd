// Builds the facts policy decides over from a client, a task and the request's context.
import type { Client } from '../domain/client.ts';
import type { PairDecision } from '../domain/decision.ts';
import type { ContextSnapshot } from '../domain/grant.ts';
import type { AgentTask } from '../domain/intent.ts';
import { newActionOf, type PolicyReads, type UsageFacts } from '../domain/policy-facts.ts';
import type { UsageStore } from '../domain/ports.ts';

const NO_USAGE: UsageFacts = { calls_last_minute: 0, denied_last_hour: 0 };

/** Moved to domain/policy-facts.ts (pure); re-exported for the use-cases that build facts. */
export { factsOf } from '../domain/policy-facts.ts';

/** The context of a fresh request: nothing known but the caller's address and whether its token is DPoP-bound. */
export function requestContext(
  client: Client,
  ip: string | undefined,
  senderConstrained = false,
): ContextSnapshot {
  return {
    ip,
    risk: 0,
    signals: [],
    approved: false,
    delegated: false,
    sender_constrained: senderConstrained,
    groups: [...client.groups],
  };
}

/** The distinct actions of an intent. */
const actionsOf = (entries: readonly AgentTask[]) => [
  ...new Set(entries.flatMap((e) => e.actions)),
];

/**
 * The agents' used actions among their intents' (one set per query), read only when a policy with
 * `reads` can tell `usage.new_action` apart: otherwise undefined for each, as nothing can depend on
 * it (and the decision costs no read). A store that cannot answer throws (StoreUnavailable): no
 * decision is made on a history not read.
 */
export async function actionHistoriesOf(
  usage: Pick<UsageStore, 'usedActionsOf'>,
  reads: PolicyReads,
  queries: ReadonlyArray<{ readonly clientId: string; readonly entries: readonly AgentTask[] }>,
): Promise<Array<ReadonlySet<string> | undefined>> {
  if (!reads.leaves.has('usage.new_action')) return queries.map(() => undefined);
  return usage.usedActionsOf(
    queries.map((q) => ({ clientId: q.clientId, actions: actionsOf(q.entries) })),
  );
}

/**
 * Each agent's history over the actions of all its grants given (one query per agent: a batch of
 * re-evaluations), keyed by client id (see actionHistoriesOf).
 */
export async function actionHistoriesByClient(
  usage: Pick<UsageStore, 'usedActionsOf'>,
  reads: PolicyReads,
  grants: ReadonlyArray<{ readonly client_id: string; readonly granted: readonly AgentTask[] }>,
): Promise<Map<string, ReadonlySet<string> | undefined>> {
  const byClient = new Map<string, AgentTask[]>();
  for (const g of grants) {
    const entries = byClient.get(g.client_id) ?? [];
    entries.push(...g.granted);
    byClient.set(g.client_id, entries);
  }
  const clientIds = [...byClient.keys()];
  const histories = await actionHistoriesOf(
    usage,
    reads,
    clientIds.map((clientId) => ({ clientId, entries: byClient.get(clientId) ?? [] })),
  );
  return new Map(clientIds.map((id, i) => [id, histories[i]]));
}

/** One agent's history for one intent (see actionHistoriesOf). */
export async function actionHistoryOf(
  usage: Pick<UsageStore, 'usedActionsOf'>,
  reads: PolicyReads,
  clientId: string,
  entries: readonly AgentTask[],
): Promise<ReadonlySet<string> | undefined> {
  const [history] = await actionHistoriesOf(usage, reads, [{ clientId, entries }]);
  return history;
}

/**
 * The usage facts of a decision outside an evaluation (mint, refresh, approval): no call of a
 * grant counted, the agent's action history as read (see actionHistoryOf).
 */
export function historyUsage(usedActions: ReadonlySet<string> | undefined): UsageFacts {
  return usedActions ? { ...NO_USAGE, used_actions: usedActions } : NO_USAGE;
}

/**
 * The usage a decision record shows: the counters, and when the history was read, the intent's
 * actions that were new (a Set does not survive JSON).
 */
export function usageInputs(usage: UsageFacts, entries: readonly AgentTask[]) {
  const { calls_last_minute, denied_last_hour } = usage;
  if (!usage.used_actions) return { calls_last_minute, denied_last_hour };
  return {
    calls_last_minute,
    denied_last_hour,
    new_actions: actionsOf(entries).filter((a) => newActionOf(usage, a)),
  };
}

/** What a decision record shows of who asked and how policy answered each pair. */
export function pairInputs(client: Client, pairs: readonly PairDecision[]) {
  return {
    principal: { id: client.client_id, groups: client.groups, attributes: client.attributes },
    pairs: pairs.map((p) => ({
      action: p.pair.action,
      location: p.pair.location,
      effect: p.effect,
      reasons: p.reasons,
      errors: p.errors,
    })),
  };
}
