// Human approval: a pending decision bound to one exact intent, polled by the agent (OpenID CIBA).

import { canonicalJson } from './decision-record.ts';
import type { AgentTask } from './intent.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/** mint: a new task; elevation: more for a live grant; resume: a grant suspended by re-evaluation. */
export type ApprovalKind = 'mint' | 'elevation' | 'resume';

export interface Approval {
  readonly id: string;
  readonly kind: ApprovalKind;
  readonly client_id: string;
  readonly task_id: string;
  readonly grant_id?: string | undefined;
  /** The exact intent approved: a changed request is a different intent and needs its own approval. */
  readonly intent: AgentTask[];
  readonly intent_key: string;
  /** The pairs that needed a human, with the policies that asked for one. */
  readonly pairs: Array<{ action: string; location: string; reasons: string[] }>;
  readonly status: ApprovalStatus;
  /** Epoch seconds. */
  readonly created_at: number;
  readonly expires_at: number;
  /** Minimum seconds between polls (CIBA `interval`). */
  readonly interval: number;
  readonly decided_by?: string | undefined;
  readonly decided_at?: number | undefined;
  readonly note?: string | undefined;
}

/** A stable key of an intent, for binding approvals to it (order of entries and lists kept). */
export function intentKey(
  kind: ApprovalKind,
  clientId: string,
  intent: readonly AgentTask[],
  grantId = '',
): string {
  return canonicalJson({ kind, clientId, grantId, intent });
}
