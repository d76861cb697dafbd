// Builds the facts policy decides over from a client, a task and the request's context.
import type { Client } from '../domain/client.ts';
import type { ContextSnapshot } from '../domain/grant.ts';
import { type AgentTask, datatypesOf } from '../domain/intent.ts';
import type { PolicyFacts, UsageFacts } from '../domain/policy-facts.ts';

const NO_USAGE: UsageFacts = { calls_last_minute: 0, denied_last_hour: 0 };

export function factsOf(
  client: Client,
  entries: readonly AgentTask[],
  context: ContextSnapshot,
  nowSec: number,
  usage: UsageFacts = NO_USAGE,
): PolicyFacts {
  const first = entries[0];
  return {
    agent: { id: client.client_id, groups: client.groups, attributes: client.attributes },
    task: { id: first?.task_id ?? '', purpose: first?.purpose ?? '' },
    datatypes: datatypesOf(entries),
    nowSec,
    ip: context.ip,
    risk: context.risk,
    usage,
    approved: context.approved,
    delegated: context.delegated,
    sender_constrained: context.sender_constrained,
    signals: context.signals,
  };
}

/** The context of a fresh request: nothing known but the caller's address. */
export function requestContext(client: Client, ip: string | undefined): ContextSnapshot {
  return { ip, risk: 0, signals: [], approved: false, delegated: false, sender_constrained: false, groups: [...client.groups] };
}
