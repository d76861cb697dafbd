// client_credentials with agent_task authorization_details (and every grant that mints like it): decide every pair now, store the grant, sign.
import { randomBase64url } from '../crypto/random-id.ts';
import type { Client } from '../domain/client.ts';
import { type PairDecision, reasonsOf } from '../domain/decision.ts';
import type { Delegation } from '../domain/delegation.ts';
import { OAuthError } from '../domain/errors.ts';
import type { ContextSnapshot, Grant } from '../domain/grant.ts';
import type { AgentTask } from '../domain/intent.ts';
import type { GrantCreateOutcome } from '../domain/ports.ts';
import { clampGrantTtl } from '../domain/ttl.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { expiresIn, requestApproval } from './approvals.ts';
import { hashSecret } from './authenticate-client.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { decideMint, type MintRequest } from './decide-mint.ts';
import { prepareAccessToken, signAccessToken, tokenResponse } from './issue-access-token.ts';

// Where the exchanges and the ID-JAG grant have always found them.
export type { DelegatedMint, MintRequest } from './decide-mint.ts';

/** Options of createGrant beyond the decided intent. */
export interface GrantOptions {
  /** The DPoP key thumbprint its tokens are bound to. */
  readonly jkt?: string | undefined;
  readonly delegation?: Delegation | undefined;
  /** Epoch s: the grant's deadline is capped here (a parent grant's). */
  readonly notAfter?: number | undefined;
}

export async function mintToken(
  broker: Broker,
  client: Client,
  req: MintRequest,
): Promise<TokenResponse> {
  const { requested, pairs, decision, context, policyVersion, jkt, inputs } = await decideMint(
    broker,
    client,
    req,
  );
  const delegated = req.delegated;
  const nowSec = nowSecOf(broker);
  const task_id = requested[0]?.task_id as string;
  const grantType = delegated?.grantType ?? 'client_credentials';

  if (decision.outcome === 'approval') {
    const approval = await requestApproval(broker, {
      kind: 'mint',
      client,
      intent: requested,
      pairs,
    });
    await broker.decisions.record({
      kind: 'denial',
      outcome: 'approval_required',
      reasons: reasonsOf(pairs, 'approval'),
      client_id: client.client_id,
      task_id,
      policy_version: policyVersion,
      inputs: { ...inputs, auth_req_id: approval.id },
    });
    broker.metrics.decision('mint', 'approval_required');
    throw new OAuthError(
      'approval_required',
      'a human must approve this request; poll with the CIBA grant type',
      {
        auth_req_id: approval.id,
        expires_in: expiresIn(broker, approval, nowSec),
        interval: approval.interval,
      },
    );
  }
  if (decision.outcome === 'deny') {
    await broker.decisions.record({
      kind: 'denial',
      outcome: 'deny',
      reasons: reasonsOf(pairs),
      client_id: client.client_id,
      task_id,
      policy_version: policyVersion,
      inputs,
    });
    broker.metrics.decision('mint', 'deny');
    throw new OAuthError('access_denied', 'policy permits none of the requested actions');
  }
  return createGrant(
    broker,
    client,
    requested,
    decision,
    context,
    policyVersion,
    inputs,
    grantType,
    { jkt, delegation: delegated?.delegation, notAfter: delegated?.notAfter },
  );
}

/** Stores a new grant for a decided intent and issues its first tokens (also after an approval). */
export async function createGrant(
  broker: Broker,
  client: Client,
  requested: AgentTask[],
  decision: { outcome: string; granted: AgentTask[]; pairs: PairDecision[] },
  context: ContextSnapshot,
  policyVersion: number,
  inputs: Record<string, unknown>,
  grantType: string,
  opts: GrantOptions = {},
): Promise<TokenResponse> {
  const { jkt, delegation, notAfter } = opts;
  const nowSec = nowSecOf(broker);
  const task_id = requested[0]?.task_id as string;
  const clamped = clampGrantTtl(maxTtl(requested), {
    defaultGrantTtlSec: broker.settings.grantTtlSec,
    maxGrantTtlSec: broker.settings.maxGrantTtlSec,
    accessTtlSec: broker.settings.accessTtlSec,
    clientMaxGrantTtlSec: client.max_grant_ttl,
  });
  const ttl = notAfter === undefined ? clamped : Math.min(clamped, notAfter - nowSec);
  const grant: Grant = {
    id: `g_${randomBase64url(16)}`,
    client_id: client.client_id,
    task_id,
    status: 'active',
    requested,
    granted: decision.granted,
    context,
    policy_version: policyVersion,
    created_at: nowSec,
    expires_at: nowSec + ttl,
    ...(jkt ? { jkt } : {}),
    ...(delegation ? { delegation } : {}),
  };
  const refreshSecret = randomBase64url(32);
  const prepared = prepareAccessToken(broker, client, grant, decision.granted, nowSec, jkt);
  const created: { outcome: GrantCreateOutcome } = { outcome: 'created' };
  // Signed first: the grant is stored with the token's digest. The grant goes out right behind
  // its record, so it never exists without one, even if this process dies; the agent gets
  // nothing until both are done.
  const access = await signAccessToken(broker, prepared);
  const recorded = broker.decisions.record(
    {
      kind: 'mint',
      outcome: decision.outcome,
      reasons: reasonsOf(decision.pairs, decision.outcome === 'narrow' ? 'deny' : 'permit'),
      client_id: client.client_id,
      grant_id: grant.id,
      task_id,
      policy_version: policyVersion,
      inputs: {
        ...inputs,
        granted: decision.granted,
        jti: prepared.jti,
        grant_expires_at: grant.expires_at,
        ...(jkt ? { jkt } : {}),
      },
    },
    {
      followedBy: async () => {
        // The store refuses the grant (atomically) for a client marked disabled or deleted, or at its cap.
        created.outcome = await broker.grants.create(grant, access, hashSecret(refreshSecret), {
          maxLiveGrantsPerAgent: broker.settings.maxLiveGrantsPerAgent,
        });
      },
    },
  );
  try {
    await recorded;
  } catch (err) {
    // A write that timed out may still run once Redis catches up. The agent never got this
    // grant, so end it: the revocation queues behind the create on the same connection.
    broker.grants.revokeGrant(grant.id, 'mint_not_acknowledged', nowSec).catch(() => undefined);
    throw err;
  }
  if (created.outcome !== 'created')
    throw await refusedGrant(broker, grant, created.outcome, policyVersion);
  broker.metrics.tokenMinted(grantType);
  broker.metrics.decision('mint', decision.outcome);
  return tokenResponse(access, decision.granted, grant.id, refreshSecret);
}

/**
 * A grant the store refused after its mint record landed (the token signed meanwhile is dropped):
 * the grant's history says why, and the agent gets the RFC 6749 error. A client disabled or deleted
 * since it authenticated (another process may still hold it in cache) fails authentication.
 */
async function refusedGrant(
  broker: Broker,
  grant: Grant,
  why: Exclude<GrantCreateOutcome, 'created'>,
  policyVersion: number,
): Promise<OAuthError> {
  await broker.decisions
    .record({
      kind: 'denial',
      outcome: 'refused',
      reasons: [why],
      client_id: grant.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      policy_version: policyVersion,
      inputs: {
        refused: 'grant_creation',
        ...(why === 'live_grant_limit' ? { limit: broker.settings.maxLiveGrantsPerAgent } : {}),
      },
    })
    // The refusal stands (nothing was created) even if its record cannot be written.
    .catch((err: unknown) => broker.log.warn({ err: String(err) }, 'decision record failed'));
  broker.metrics.decision('mint', 'refused');
  if (why === 'parent_inactive')
    return new OAuthError('invalid_grant', "the subject token's grant is no longer active");
  if (why === 'live_grant_limit') {
    return new OAuthError(
      'access_denied',
      `too many live grants for this agent (at most ${broker.settings.maxLiveGrantsPerAgent}); revoke finished ones`,
    );
  }
  return new OAuthError('invalid_client', 'client authentication failed');
}

function maxTtl(entries: readonly AgentTask[]): number | undefined {
  const ttls = entries.map((e) => e.ttl).filter((t): t is number => t !== undefined);
  return ttls.length ? Math.max(...ttls) : undefined;
}
