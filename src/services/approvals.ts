// Human approval: requests bound to one intent, CIBA polling by the agent, decisions by approvers.
import { randomBase64url } from '../crypto/random-id.ts';
import {
  type Approval,
  type ApprovalKind,
  type ApprovalStatus,
  intentKey,
} from '../domain/approval.ts';
import { approvalLink, approvalReasons } from '../domain/approval-notice.ts';
import type { Client } from '../domain/client.ts';
import { combineDecisions, type PairDecision, reasonsOf } from '../domain/decision.ts';
import type { DpopProofFacts } from '../domain/dpop.ts';
import { OAuthError, ProblemError } from '../domain/errors.ts';
import type { Grant } from '../domain/grant.ts';
import { type AgentTask, pairsOf } from '../domain/intent.ts';
import type { ApprovalList, ApprovalView } from '../domain/wire/admin.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { cascadeToChildren } from './cascade-delegation.ts';
import { bindProof } from './dpop-binding.ts';
import { actionHistoryOf, factsOf, historyUsage, requestContext } from './policy-facts-of.ts';

export interface ApprovalRequest {
  readonly kind: ApprovalKind;
  readonly client: Client;
  readonly intent: AgentTask[];
  readonly pairs: readonly PairDecision[];
  readonly grant?: Pick<Grant, 'id'> | undefined;
}

/** Opens an approval for this exact intent, or returns the one already pending for it. */
export async function requestApproval(broker: Broker, req: ApprovalRequest): Promise<Approval> {
  const key = intentKey(req.kind, req.client.client_id, req.intent, req.grant?.id);
  const pending = await broker.approvals.pendingFor(key);
  const nowSec = nowSecOf(broker);
  if (pending && pending.status === 'pending' && pending.expires_at > nowSec) return pending;
  const approval: Approval = {
    id: `ar_${randomBase64url(18)}`,
    kind: req.kind,
    client_id: req.client.client_id,
    task_id: req.intent[0]?.task_id ?? '',
    grant_id: req.grant?.id,
    intent: req.intent,
    intent_key: key,
    pairs: req.pairs
      .filter((p) => p.effect === 'approval')
      .map((p) => ({ action: p.pair.action, location: p.pair.location, reasons: p.reasons })),
    status: 'pending',
    created_at: nowSec,
    expires_at: nowSec + broker.settings.approvalTtlSec,
    interval: broker.settings.approvalIntervalSec,
  };
  // An agent's own requests count against its cap; the resume requests the broker opens do not
  // (suspensions are bounded by the agent's live grants).
  const limits =
    req.kind === 'resume'
      ? undefined
      : { maxPendingPerAgent: broker.settings.maxPendingApprovalsPerAgent };
  const created = await broker.approvals.create(approval, limits);
  if (created === 'pending_approval_limit') {
    throw new OAuthError(
      'access_denied',
      `too many pending approval requests for this agent (at most ${broker.settings.maxPendingApprovalsPerAgent})`,
    );
  }
  // Disabled or deleted since it authenticated (another process may still hold it in cache).
  if (created !== 'created') throw new OAuthError('invalid_client', 'client authentication failed');
  await broker.approvalNotifier.opened(approval);
  return approval;
}

/**
 * Hooks the approval flow needs from minting and elevation (kept there to avoid a cycle). `jkt`
 * is the DPoP key the issued tokens are bound to (the poll's proof, or the grant's own key).
 */
export interface ApprovedIntentHandlers {
  mint(
    client: Client,
    intent: AgentTask[],
    pairs: PairDecision[],
    approval: Approval,
    jkt: string | undefined,
  ): Promise<TokenResponse>;
  elevate(client: Client, approval: Approval, jkt: string | undefined): Promise<TokenResponse>;
}

/**
 * The agent's CIBA poll (`grant_type=urn:openid:params:grant-type:ciba`): pending, slow_down when
 * polling faster than `interval`, access_denied, expired_token, or the tokens once approved (once).
 * With a DPoP proof (checked, jti not yet claimed) the tokens are bound to its key; an elevation
 * of a bound grant needs a proof by the grant's key.
 */
export async function pollApproval(
  broker: Broker,
  client: Client,
  authReqId: string | undefined,
  ip: string | undefined,
  handlers: ApprovedIntentHandlers,
  dpop?: DpopProofFacts,
): Promise<TokenResponse> {
  if (!authReqId) throw new OAuthError('invalid_request', 'auth_req_id is required');
  const approval = authReqId.length <= 128 ? await broker.approvals.get(authReqId) : undefined;
  if (!approval || approval.client_id !== client.client_id || approval.kind === 'resume')
    throw new OAuthError('invalid_grant', 'unknown auth_req_id');
  const nowSec = nowSecOf(broker);
  if (approval.status === 'consumed')
    throw new OAuthError('invalid_grant', 'auth_req_id was already used');
  // An approval not collected in time expires too, approved or not (CIBA).
  if (approval.expires_at <= nowSec)
    throw new OAuthError('expired_token', 'the approval request expired');
  const boundJkt =
    approval.kind === 'elevation' && approval.grant_id
      ? (await broker.grants.get(approval.grant_id))?.jkt
      : undefined;
  const jkt = await bindProof(broker, client, dpop, boundJkt);
  if (!(await broker.approvals.pace(approval.id, approval.interval)))
    throw new OAuthError('slow_down', `poll at most every ${approval.interval} s`);
  if (approval.status === 'pending')
    throw new OAuthError('authorization_pending', 'waiting for an approver');
  if (approval.status === 'denied')
    throw new OAuthError('access_denied', 'an approver denied the request');
  const consumed = await broker.approvals.transition(approval.id, 'approved', {
    status: 'consumed',
  });
  if (!consumed) throw new OAuthError('invalid_grant', 'auth_req_id was already used');
  if (approval.kind === 'elevation') return handlers.elevate(client, approval, jkt);

  // Decided again now, with the approval in the context: it covers this intent, not policy changes since.
  const context = { ...requestContext(client, ip, jkt !== undefined), approved: true };
  const policy = broker.policy.current();
  const usage = historyUsage(
    await actionHistoryOf(broker.usage, policy.reads, client.client_id, approval.intent),
  );
  const pairs = policy.decide(
    factsOf(client, approval.intent, context, nowSec, usage),
    pairsOf(approval.intent),
  );
  return handlers.mint(client, approval.intent, pairs, approval, jkt);
}

/** An approval as the admin API shows it: without its intent key. */
/** An approval as the admin API shows it: without its intent key, with `requested`, `reasons` and its console `link`. */
function approvalView(
  broker: Pick<Broker, 'settings'>,
  { intent_key: _key, ...shown }: Approval,
): ApprovalView {
  return {
    ...shown,
    requested: shown.intent,
    reasons: approvalReasons(shown),
    link: approvalLink(broker.settings.issuer, shown.id),
  };
}

/** One approval request, or 404. */
export async function showApproval(broker: Broker, id: string): Promise<ApprovalView> {
  const approval = id.length <= 128 ? await broker.approvals.get(id) : undefined;
  if (!approval)
    throw new ProblemError(404, 'Approval not found', `no approval ${id.slice(0, 128)}`);
  return approvalView(broker, approval);
}

/** Approval requests for an approver; a pending one past its expiry is not pending any more. */
export async function listApprovals(
  broker: Broker,
  status: ApprovalStatus | undefined,
  limit: number,
): Promise<ApprovalList> {
  const nowSec = nowSecOf(broker);
  const approvals = await broker.approvals.list(status, nowSec, limit);
  return {
    approvals: approvals
      .filter((a) => status !== 'pending' || a.expires_at > nowSec)
      .map((a) => approvalView(broker, a)),
  };
}

/** An approver's decision. Approving a suspended grant resumes it. */
export async function decideApproval(
  broker: Broker,
  id: string,
  decision: 'approve' | 'deny',
  note: string | undefined,
  by: string,
): Promise<ApprovalView> {
  const approval = await broker.approvals.get(id);
  if (!approval)
    throw new ProblemError(404, 'Approval not found', `no approval ${id.slice(0, 128)}`);
  const nowSec = nowSecOf(broker);
  if (approval.status !== 'pending')
    throw new ProblemError(409, 'Approval already decided', `approval is ${approval.status}`);
  if (approval.expires_at <= nowSec)
    throw new ProblemError(410, 'Approval expired', 'the request expired before a decision');
  const status = decision === 'approve' ? 'approved' : 'denied';
  const decided = await broker.approvals.transition(id, 'pending', {
    status,
    decided_by: by,
    decided_at: nowSec,
    note,
  });
  if (!decided) throw new ProblemError(409, 'Approval already decided');
  let resumed: boolean | undefined;
  if (approval.kind === 'resume' && approval.grant_id && status === 'approved') {
    const grant = await broker.grants.get(approval.grant_id);
    resumed = grant
      ? await broker.grants.update(grant.id, 'suspended', 'active', {
          context: { ...grant.context, approved: true },
        })
      : false;
  } else if (approval.kind === 'resume' && approval.grant_id) {
    const { revoked } = await broker.grants.revokeGrant(
      approval.grant_id,
      'approval_denied',
      nowSec,
    );
    resumed = false;
    // A resume approval's intent is the suspended grant's granted set: its audiences hear of the end.
    if (revoked)
      await broker.notifier.revoked(
        {
          id: approval.grant_id,
          client_id: approval.client_id,
          task_id: approval.task_id,
          granted: approval.intent,
        },
        'approval_denied',
      );
    await cascadeToChildren(broker, approval.grant_id, {
      kind: 'revoke',
      reason: 'approval_denied',
    });
  }
  await broker.decisions.record({
    kind: 'approval',
    outcome: status,
    reasons: approval.pairs.flatMap((p) => p.reasons),
    client_id: approval.client_id,
    grant_id: approval.grant_id,
    task_id: approval.task_id,
    inputs: {
      approval_id: id,
      approval_kind: approval.kind,
      intent: approval.intent,
      by,
      note,
      resumed,
    },
  });
  return { ...approvalView(broker, decided), ...(resumed !== undefined ? { resumed } : {}) };
}

/** What an approved intent grants when decided again with `approved: true`. */
export function approvedOutcome(intent: AgentTask[], pairs: PairDecision[]) {
  const decision = combineDecisions(intent, pairs);
  if (decision.outcome === 'deny' || decision.outcome === 'approval') {
    throw new OAuthError('access_denied', 'policy no longer permits the approved request');
  }
  return { decision, reasons: reasonsOf(pairs) };
}

/** Seconds the agent has left to collect an approval (never more than its lifetime). */
export function expiresIn(
  broker: Pick<Broker, 'settings'>,
  approval: Approval,
  nowSec: number,
): number {
  return Math.max(0, Math.min(approval.expires_at - nowSec, broker.settings.approvalTtlSec));
}
