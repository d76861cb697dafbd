// The numbers an operator glances at: live grants, pending approvals, decisions and denials in the last minute.
import { type Broker, nowSecOf } from './broker.ts';

/** Newest records read to count the last minute; more than this shows as "at least". */
export const RECENT_DECISIONS_READ = 200;
/** Pending approvals read to count them; more than this shows as "at least". */
export const PENDING_APPROVALS_READ = 1000;

export interface LiveCounts {
  readonly liveGrants: number;
  readonly pendingApprovals: number;
  /** Pending approvals reached PENDING_APPROVALS_READ: there may be more. */
  readonly pendingAtLeast: boolean;
  readonly decisionsLastMinute: number;
  readonly denialsLastMinute: number;
  /** Every record read was from the last minute: there may be more. */
  readonly decisionsAtLeast: boolean;
}

/** Denials: a refused mint, or any decision whose outcome was deny. */
const isDenial = (r: { kind: string; outcome: string }) =>
  r.kind === 'denial' || r.outcome === 'deny';

/** Reads the counts from the stores every broker shares (so every process shows the same). */
export async function liveCounts(broker: Broker): Promise<LiveCounts> {
  const nowSec = nowSecOf(broker);
  const sinceMs = broker.clock.nowMs() - 60_000;
  const [liveGrants, pending, recent] = await Promise.all([
    broker.grants.countLive(nowSec),
    broker.approvals.list('pending', nowSec, PENDING_APPROVALS_READ),
    broker.decisions.list({ limit: RECENT_DECISIONS_READ }),
  ]);
  // The shared inputs of a batch are stored as a record of their own: not a decision.
  const lastMinute = recent.filter((r) => r.at_ms >= sinceMs && r.kind !== 'inputs');
  return {
    liveGrants,
    pendingApprovals: pending.filter((a) => a.status === 'pending' && a.expires_at > nowSec).length,
    pendingAtLeast: pending.length >= PENDING_APPROVALS_READ,
    decisionsLastMinute: lastMinute.length,
    denialsLastMinute: lastMinute.filter(isDenial).length,
    decisionsAtLeast: recent.length >= RECENT_DECISIONS_READ && lastMinute.length === recent.length,
  };
}
