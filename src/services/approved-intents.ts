// What an approval grants once the agent collects it: a new grant, or a wider one.
import type { Approval } from '../domain/approval.ts';
import type { Client } from '../domain/client.ts';
import { OAuthError } from '../domain/errors.ts';
import { isGrantLive } from '../domain/grant.ts';
import { pairsOf } from '../domain/intent.ts';
import { type ApprovedIntentHandlers, approvedOutcome } from './approvals.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { issueAccessToken, tokenResponse } from './issue-access-token.ts';
import { createGrant } from './mint-token.ts';
import { actionHistoryOf, factsOf, historyUsage, requestContext } from './policy-facts-of.ts';

export function approvedIntentHandlers(
  broker: Broker,
  ip: string | undefined,
): ApprovedIntentHandlers {
  return {
    async mint(client, intent, pairs, approval: Approval, jkt) {
      const { decision } = approvedOutcome(intent, pairs);
      const context = { ...requestContext(client, ip, jkt !== undefined), approved: true };
      const inputs = {
        request: {
          grant_type: 'urn:openid:params:grant-type:ciba',
          auth_req_id: approval.id,
          authorization_details: intent,
        },
        approval: {
          id: approval.id,
          decided_by: approval.decided_by,
          decided_at: approval.decided_at,
        },
        context,
      };
      const response = await createGrant(
        broker,
        client,
        intent,
        decision,
        context,
        broker.policy.current().version,
        inputs,
        'ciba',
        { jkt },
      );
      // The grant's own history names its approver, so "who allowed this?" has a direct answer.
      await broker.decisions.record({
        kind: 'approval',
        outcome: 'consumed',
        reasons: approval.pairs.flatMap((p) => p.reasons),
        client_id: client.client_id,
        grant_id: response.grant_id,
        task_id: approval.task_id,
        inputs: {
          approval_id: approval.id,
          by: approval.decided_by,
          decided_at: approval.decided_at,
          note: approval.note,
          intent,
        },
      });
      return response;
    },

    async elevate(client: Client, approval: Approval, jkt) {
      const grant = approval.grant_id ? await broker.grants.get(approval.grant_id) : undefined;
      const nowSec = nowSecOf(broker);
      if (!grant || grant.client_id !== client.client_id || !isGrantLive(grant, nowSec))
        throw new OAuthError('invalid_grant', 'the grant is no longer active');
      const policy = broker.policy.current();
      const context = { ...grant.context, approved: true };
      const usage = historyUsage(
        await actionHistoryOf(broker.usage, policy.reads, client.client_id, approval.intent),
      );
      const pairs = policy.decide(
        factsOf(client, approval.intent, context, nowSec, usage),
        pairsOf(approval.intent),
      );
      const { decision } = approvedOutcome(approval.intent, pairs);
      const access = await issueAccessToken(broker, client, grant, decision.granted, nowSec, jkt);
      const changed = await broker.grants.update(
        grant.id,
        'active',
        'active',
        {
          requested: approval.intent,
          granted: decision.granted,
          context,
          policy_version: policy.version,
        },
        access,
      );
      if (!changed) throw new OAuthError('invalid_grant', 'the grant is no longer active');
      await broker.decisions.record({
        kind: 'refresh',
        outcome: 'elevate',
        reasons: [],
        client_id: client.client_id,
        grant_id: grant.id,
        task_id: grant.task_id,
        policy_version: policy.version,
        inputs: {
          approval: { id: approval.id, decided_by: approval.decided_by },
          granted_before: grant.granted,
          granted: decision.granted,
          jti: access.jti,
        },
      });
      broker.metrics.tokenMinted('ciba');
      // The agent keeps its refresh token: the grant it names is now the wider one.
      return tokenResponse(access, decision.granted, grant.id);
    },
  };
}
