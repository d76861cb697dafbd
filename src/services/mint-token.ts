// client_credentials with agent_task authorization_details: decide every pair now, store the grant, sign.
import { randomBase64url } from '../crypto/random-id.ts';
import type { Client } from '../domain/client.ts';
import { combineDecisions, type PairDecision, reasonsOf } from '../domain/decision.ts';
import { type Delegation, type OnBehalfOf, withinParent } from '../domain/delegation.ts';
import type { DpopProofFacts } from '../domain/dpop.ts';
import { OAuthError } from '../domain/errors.ts';
import type { ContextSnapshot, Grant } from '../domain/grant.ts';
import { type AgentTask, pairsOf } from '../domain/intent.ts';
import type { GrantCreateOutcome } from '../domain/ports.ts';
import type { WorkloadContext } from '../domain/trusted-issuer.ts';
import { clampGrantTtl } from '../domain/ttl.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { expiresIn, requestApproval } from './approvals.ts';
import { hashSecret } from './authenticate-client.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { bindProof } from './dpop-binding.ts';
import { prepareAccessToken, signAccessToken, tokenResponse } from './issue-access-token.ts';
import { parseIntent } from './parse-intent.ts';
import {
  actionHistoryOf,
  factsOf,
  historyUsage,
  requestContext,
  usageInputs,
} from './policy-facts-of.ts';

export interface MintRequest {
  /** The raw `authorization_details` parameter (JSON text), if sent. */
  readonly authorizationDetails: string | undefined;
  readonly resources: readonly string[];
  readonly scope: string | undefined;
  readonly ip: string | undefined;
  /** The request's checked DPoP proof (its jti not yet claimed): the grant's tokens are bound to its key. */
  readonly dpop?: DpopProofFacts | undefined;
  /** The workload identity the agent authenticated with (a trusted issuer's token), if any. */
  readonly workload?: WorkloadContext | undefined;
  /** A delegated request (token exchange, ID-JAG): who the grant acts for and what bounds it. */
  readonly delegated?: DelegatedMint | undefined;
}

/** What a delegated mint adds: the grant's delegation, the person it acts for, its parent's bounds. */
export interface DelegatedMint {
  /** The grant type asked with (recorded). */
  readonly grantType: string;
  readonly delegation: Delegation;
  readonly onBehalfOf?: OnBehalfOf | undefined;
  /** The parent grant's granted pairs: the request is narrowed to them (invalid_target when none is left). */
  readonly parentGranted?: readonly AgentTask[] | undefined;
  /** The parent grant's deadline: the new grant ends no later. */
  readonly notAfter?: number | undefined;
  /** The only locations the request may name (an ID-JAG's `resource`): any other is invalid_target. */
  readonly allowedLocations?: readonly string[] | undefined;
  /** The subject token's DPoP key: the request must carry a proof by it, and the new grant is bound to it. */
  readonly subjectJkt?: string | undefined;
}

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
  if (client.kind !== 'agent')
    throw new OAuthError('unauthorized_client', 'only agent clients may request tokens');
  const delegated = req.delegated;
  const requested = withinDelegation(parseIntent(req, broker.settings.intentLimits), delegated);
  const jkt = await bindProof(broker, client, req.dpop, delegated?.subjectJkt);
  const nowSec = nowSecOf(broker);
  const context = mintContext(client, req, jkt !== undefined);
  const policy = broker.policy.current();
  const usage = historyUsage(
    await actionHistoryOf(broker.usage, policy.reads, client.client_id, requested),
  );
  const pairs = policy.decide(
    factsOf(client, requested, context, nowSec, usage),
    pairsOf(requested),
  );
  // A delegated request cannot wait for a human (its subject token would outlive no approval):
  // what needs one is not granted, as on refresh.
  const decision = combineDecisions(
    requested,
    delegated
      ? pairs.map((p) => (p.effect === 'approval' ? { ...p, effect: 'deny' as const } : p))
      : pairs,
  );
  const task_id = requested[0]?.task_id as string;
  const grantType = delegated?.grantType ?? 'client_credentials';
  const inputs = {
    request: {
      grant_type: grantType,
      authorization_details: requested,
      resource: req.resources,
      scope: req.scope,
    },
    ...(delegated ? { delegation: delegated.delegation } : {}),
    context: { ...context, now: nowSec },
    ...(usage.used_actions ? { usage: usageInputs(usage, requested) } : {}),
    principal: { id: client.client_id, groups: client.groups, attributes: client.attributes },
    pairs: pairs.map((p) => ({
      action: p.pair.action,
      location: p.pair.location,
      effect: p.effect,
      reasons: p.reasons,
      errors: p.errors,
    })),
  };

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
      policy_version: policy.version,
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
      policy_version: policy.version,
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
    policy.version,
    inputs,
    grantType,
    { jkt, delegation: delegated?.delegation, notAfter: delegated?.notAfter },
  );
}

/** The request within its delegation's bounds: allowed locations, a parent grant's pairs (narrowed to them; invalid_target when none is held). */
function withinDelegation(requested: AgentTask[], delegated: DelegatedMint | undefined) {
  const allowed = delegated?.allowedLocations;
  if (allowed && requested.some((e) => e.locations.some((l) => !allowed.includes(l))))
    throw new OAuthError(
      'invalid_target',
      'a requested location is not among the resources the assertion names',
    );
  if (!delegated?.parentGranted) return requested;
  const within = withinParent(requested, delegated.parentGranted);
  if (within.length === 0) {
    throw new OAuthError(
      'invalid_target',
      "none of the requested (action, location) pairs is held by the subject token's grant",
    );
  }
  return within;
}

/** The context a new grant is decided with: the request's, the workload's, the person's. */
function mintContext(client: Client, req: MintRequest, senderConstrained: boolean) {
  const base = requestContext(client, req.ip, senderConstrained);
  return {
    ...base,
    ...(req.workload ? { workload: req.workload } : {}),
    ...(req.delegated ? { delegated: true } : {}),
    ...(req.delegated?.onBehalfOf ? { on_behalf_of: req.delegated.onBehalfOf } : {}),
  };
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
