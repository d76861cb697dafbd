// Grants: the approved intent of one task, stored while the task may run.
import type { Delegation, OnBehalfOf } from './delegation.ts';
import type { AgentTask } from './intent.ts';
import type { WorkloadContext } from './trusted-issuer.ts';

export type GrantStatus = 'active' | 'suspended' | 'revoked';

/** What was known about the request when the grant was approved. */
export interface ContextSnapshot {
  readonly ip?: string | undefined;
  readonly risk: number;
  readonly signals: string[];
  readonly approved: boolean;
  readonly delegated: boolean;
  readonly sender_constrained: boolean;
  /** Groups the agent had when the grant was approved (group drift is a reason to re-decide). */
  readonly groups: string[];
  /** The workload identity the grant was minted with (a trusted issuer's token), if any. */
  readonly workload?: WorkloadContext | undefined;
  /** The person the grant acts for (token exchange or ID-JAG), if any; `delegated` is then true. */
  readonly on_behalf_of?: OnBehalfOf | undefined;
}

export interface Grant {
  readonly id: string;
  readonly client_id: string;
  readonly task_id: string;
  readonly status: GrantStatus;
  /** What the agent asked for. */
  readonly requested: AgentTask[];
  /** What policy permitted: always a subset of `requested`. */
  readonly granted: AgentTask[];
  readonly context: ContextSnapshot;
  readonly policy_version: number;
  /** Epoch seconds. */
  readonly created_at: number;
  /** Epoch seconds: the task's deadline; nothing of the grant is valid after it. */
  readonly expires_at: number;
  /** Why the grant was suspended or revoked. */
  readonly reason?: string | undefined;
  /** RFC 9449: the thumbprint of the key its tokens are bound to; its refresh needs a proof by that key. */
  readonly jkt?: string | undefined;
  /** RFC 8693: the subject its tokens name, their `act` chain and the parent grant, when delegated. */
  readonly delegation?: Delegation | undefined;
}

/** True when tokens of the grant may be used at `nowSec`. */
export function isGrantLive(grant: Pick<Grant, 'status' | 'expires_at'>, nowSec: number): boolean {
  return grant.status === 'active' && grant.expires_at > nowSec;
}
