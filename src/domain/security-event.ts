// CAEP 1.0 events in RFC 8417 Security Event Tokens: the payload Mandate signs for a revocation or a narrowing.

import { CAEP_EVENT_TYPE, type CaepEventKind } from './caep-event-types.ts';
import type { AgentTask } from './intent.ts';

export { CAEP_EVENT_TYPE };

export type InitiatingEntity = 'admin' | 'policy' | 'system';

/** Signs a SET payload (header `typ: secevent+jwt`); the key ring implements it. */
export interface SecurityEventSigner {
  signSecurityEvent(payload: Record<string, unknown>): Promise<string>;
}

/** One change to tell receivers about: no secrets, so it may sit in a queue. */
export interface GrantEvent {
  readonly kind: CaepEventKind;
  readonly grant: { readonly id: string; readonly client_id: string; readonly task_id: string };
  readonly reason: string;
  /** Epoch seconds of the change. */
  readonly event_timestamp: number;
  readonly initiating_entity: InitiatingEntity;
  /** The grant's authorization_details after a narrowing (for one receiver: only its audience's entries). */
  readonly granted?: AgentTask[] | undefined;
}

/** The grant an event is about: its granted entries say which audiences may hear of it. */
export interface NotifiedGrant {
  readonly id: string;
  readonly client_id: string;
  readonly task_id: string;
  /** What the grant held when the change happened (before a narrowing). */
  readonly granted: readonly AgentTask[];
}

/** The locations a change concerns: the token's `aud` before and after it. */
export function audiencesOf(grant: NotifiedGrant, after: readonly AgentTask[] = []): Set<string> {
  return new Set([...grant.granted, ...after].flatMap((e) => e.locations));
}

/**
 * The event as one receiver may see it: undefined when the grant never reached the receiver's
 * audience; a narrowing's authorization_details cut down to the entries on that audience, each
 * naming that location only (another resource's actions and locations are not its business).
 */
export function eventForAudience(
  event: GrantEvent,
  audiences: ReadonlySet<string>,
  audience: string,
): GrantEvent | undefined {
  if (!audiences.has(audience)) return undefined;
  if (event.granted === undefined) return event;
  const granted = event.granted
    .filter((e) => e.locations.includes(audience))
    .map((e) => ({ ...e, locations: [audience] }));
  return { ...event, granted };
}

/** Reasons the broker itself produces; any other reason came from an admin's revocation. */
const POLICY_REASONS = new Set([
  'policy_denied',
  'policy_narrowed',
  'policy_denied_on_refresh',
  'policy_narrowed_on_refresh',
  'approval_required',
  'reevaluation',
  'ip_changed',
  'workload_mismatch',
  'action_class_changed',
]);
const SYSTEM_REASONS = new Set(['refresh_token_replay', 'deadline_passed', 'task_complete']);

/** CAEP `initiating_entity` of a reason: policy decisions, broker-side safety rules, or an admin. */
export function initiatingEntityOf(reason: string): InitiatingEntity {
  if (POLICY_REASONS.has(reason)) return 'policy';
  if (SYSTEM_REASONS.has(reason)) return 'system';
  // agent_disabled, agent_deleted and free-text admin revocations.
  return 'admin';
}

/**
 * The SET claims (RFC 8417) for one receiver. The subject is the grant, as an opaque id; the
 * grant's `client_id` and `task_id` ride along as top-level claims so a receiver can match
 * tokens without another lookup. `txn` is the same for every receiver told of one change.
 */
export function securityEventPayload(
  event: GrantEvent,
  set: { issuer: string; audience: string; jti: string; iatSec: number; txn: string },
): Record<string, unknown> {
  const subject = { format: 'opaque', id: event.grant.id };
  const body =
    event.kind === 'session-revoked'
      ? {
          subject,
          event_timestamp: event.event_timestamp,
          initiating_entity: event.initiating_entity,
          reason_admin: { en: event.reason },
        }
      : {
          subject,
          event_timestamp: event.event_timestamp,
          initiating_entity: event.initiating_entity,
          reason_admin: { en: event.reason },
          claims: { authorization_details: event.granted ?? [] },
        };
  return {
    iss: set.issuer,
    iat: set.iatSec,
    jti: set.jti,
    aud: set.audience,
    txn: set.txn,
    client_id: event.grant.client_id,
    task_id: event.grant.task_id,
    events: { [CAEP_EVENT_TYPE[event.kind]]: body },
  };
}
