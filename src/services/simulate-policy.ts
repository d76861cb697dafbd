// Policy dry run: what a candidate policy set would do to every live grant, changing nothing.
import type { Client } from '../domain/client.ts';
import type { PolicyProblem } from '../domain/policy-registry.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { actionHistoriesByClient } from './policy-facts-of.ts';
import { reevaluate } from './reevaluate-grants.ts';

const PAGE = 500;
/** Grants listed per outcome; the counts are always complete. */
const LIST_LIMIT = 1000;

export interface SimulatedChange {
  grant_id: string;
  client_id: string;
  task_id: string;
  reasons: string[];
  granted?: unknown;
}

export type SimulationResult =
  | { ok: false; problems: PolicyProblem[] }
  | {
      ok: true;
      counts: { keep: number; narrow: number; suspend: number; revoke: number };
      narrow: SimulatedChange[];
      suspend: SimulatedChange[];
      revoke: SimulatedChange[];
    };

/** Runs the same re-evaluation the worker runs, with the candidate set, and reports instead of applying. */
export async function simulatePolicy(broker: Broker, text: string): Promise<SimulationResult> {
  const candidate = broker.policy.candidate(text);
  if (!candidate.ok) return { ok: false, problems: candidate.problems };
  const nowSec = nowSecOf(broker);
  const result = {
    ok: true as const,
    counts: { keep: 0, narrow: 0, suspend: 0, revoke: 0 },
    narrow: [] as SimulatedChange[],
    suspend: [] as SimulatedChange[],
    revoke: [] as SimulatedChange[],
  };
  const clients = new Map<string, Client | undefined>();
  for (let offset = 0; ; offset += PAGE) {
    const ids = await broker.grants.liveGrantIds(offset, PAGE, nowSec, false);
    const loaded = await broker.grants.getMany(ids);
    const [counters, histories] = await Promise.all([
      broker.usage.countersOf(
        loaded.map((l) => l.grant.id),
        nowSec,
      ),
      actionHistoriesByClient(
        broker.usage,
        candidate.set.reads,
        loaded.filter((l) => l.grant.status === 'active').map((l) => l.grant),
      ),
    ]);
    for (const [i, { grant, signals }] of loaded.entries()) {
      if (grant.status !== 'active') continue;
      if (!clients.has(grant.client_id))
        clients.set(grant.client_id, await broker.clients.get(grant.client_id));
      const usage = {
        calls_last_minute: counters[i]?.calls ?? 0,
        denied_last_hour: counters[i]?.denied ?? 0,
        used_actions: histories.get(grant.client_id),
      };
      const outcome = reevaluate(
        grant,
        clients.get(grant.client_id),
        signals,
        candidate.set,
        nowSec,
        usage,
      );
      result.counts[outcome.outcome] += 1;
      if (outcome.outcome === 'keep') continue;
      const list = result[outcome.outcome];
      if (list.length < LIST_LIMIT) {
        list.push({
          grant_id: grant.id,
          client_id: grant.client_id,
          task_id: grant.task_id,
          reasons: outcome.reasons,
          ...(outcome.outcome === 'narrow' ? { granted: outcome.granted } : {}),
        });
      }
    }
    if (ids.length < PAGE) break;
  }
  return result;
}
