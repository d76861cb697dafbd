// Cascading a grant's end or narrowing to every grant delegated from it (RFC 8693 children), breadth-first and bounded.
import { withinParent } from '../domain/delegation.ts';
import { type AgentTask, isWithin } from '../domain/intent.ts';
import { type Broker, nowSecOf } from './broker.ts';

/**
 * Most grants one cascade walks. A delegation tree is at most delegation.max_depth deep and each
 * agent holds at most limits.max_live_grants_per_agent grants, so a real tree stays far below.
 */
export const MAX_CASCADE_GRANTS = 10_000;

/** What happened to a parent grant, to be done to its children. */
export type ParentChange =
  | { readonly kind: 'revoke'; readonly reason: string }
  | { readonly kind: 'suspend'; readonly reason: string }
  | { readonly kind: 'narrow'; readonly reason: string; readonly granted: readonly AgentTask[] };

export interface CascadeResult {
  /** Children changed (revoked, suspended or narrowed). */
  grants: number;
  /** Their tokens made inactive by a revocation. */
  tokens: number;
}

/**
 * Does to every grant delegated from `parentId` what was done to it, level by level, before it
 * returns: a revoked or suspended parent revokes or suspends its children (and theirs); a narrowed
 * parent narrows each child to what it still holds of the parent (a child left with nothing is
 * revoked). Each change is conditional in the store and recorded; a child already changed is
 * walked through all the same, so a cascade cut short (a crash) is finished by the next one.
 */
export async function cascadeToChildren(
  broker: Broker,
  parentId: string,
  change: ParentChange,
): Promise<CascadeResult> {
  const result: CascadeResult = { grants: 0, tokens: 0 };
  const seen = new Set([parentId]);
  let frontier: Array<{ id: string; change: ParentChange }> = [{ id: parentId, change }];
  while (frontier.length > 0 && seen.size <= MAX_CASCADE_GRANTS) {
    const lists = await broker.grants.childrenOf(frontier.map((f) => f.id));
    const next: Array<{ id: string; change: ParentChange }> = [];
    for (const [i, children] of lists.entries()) {
      const from = frontier[i] as { id: string; change: ParentChange };
      for (const id of children) {
        if (seen.has(id)) continue;
        seen.add(id);
        const passed = await changeChild(broker, id, from.id, from.change, result);
        if (passed) next.push({ id, change: passed });
      }
    }
    frontier = next;
  }
  if (frontier.length > 0)
    broker.log.error({ grant_id: parentId, walked: seen.size }, 'delegation cascade cut short');
  return result;
}

/** Changes one child; what its own children get next (undefined: nothing). */
async function changeChild(
  broker: Broker,
  id: string,
  parentId: string,
  change: ParentChange,
  result: CascadeResult,
): Promise<ParentChange | undefined> {
  const child = await broker.grants.get(id);
  if (!child) return undefined;
  const nowSec = nowSecOf(broker);
  const audit = { client_id: child.client_id, grant_id: id, task_id: child.task_id };
  const inputs = { parent: parentId, cause: change.reason };
  if (change.kind === 'narrow') {
    if (child.status !== 'active' || isWithin(child.granted, change.granted)) return undefined;
    const granted = withinParent(child.granted, change.granted);
    if (granted.length === 0)
      return changeChild(
        broker,
        id,
        parentId,
        { kind: 'revoke', reason: 'parent_narrowed' },
        result,
      );
    const narrowed = await broker.grants.narrow(
      id,
      child.granted,
      granted,
      child.policy_version,
      nowSec,
    );
    if (!narrowed) return undefined;
    result.grants += 1;
    await broker.notifier.narrowed(child, granted, 'parent_narrowed');
    await broker.decisions.record({
      ...audit,
      kind: 'reevaluation',
      outcome: 'narrow',
      reasons: ['parent_narrowed'],
      inputs: { ...inputs, granted: child.granted, narrowed_to: granted },
    });
    return { kind: 'narrow', reason: 'parent_narrowed', granted };
  }
  if (change.kind === 'suspend') {
    if (await broker.grants.suspend(id, 'parent_suspended')) {
      result.grants += 1;
      await broker.notifier.revoked(child, 'parent_suspended');
      await broker.decisions.record({
        ...audit,
        kind: 'reevaluation',
        outcome: 'suspend',
        reasons: ['parent_suspended'],
        inputs,
      });
    }
    return { kind: 'suspend', reason: 'parent_suspended' };
  }
  const reason = change.reason === 'parent_narrowed' ? 'parent_narrowed' : 'parent_revoked';
  const { revoked, tokens } = await broker.grants.revokeGrant(id, reason, nowSec);
  if (revoked) {
    result.grants += 1;
    result.tokens += tokens;
    await broker.notifier.revoked(child, reason);
    await broker.decisions.record({
      ...audit,
      kind: 'revocation',
      outcome: 'revoke',
      reasons: [reason],
      inputs: { ...inputs, tokens },
    });
    broker.metrics.revocation('delegation', tokens);
  }
  return { kind: 'revoke', reason: 'parent_revoked' };
}
