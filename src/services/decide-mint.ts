// Decides a mint request (client_credentials, exchanges, the authorization code grant): the intent within its bounds, then policy on every pair. Stores nothing.
import type { Client } from '../domain/client.ts';
import { combineDecisions, type PairDecision } from '../domain/decision.ts';
import { type Delegation, type OnBehalfOf, withinParent } from '../domain/delegation.ts';
import type { DpopProofFacts } from '../domain/dpop.ts';
import { OAuthError } from '../domain/errors.ts';
import type { ContextSnapshot } from '../domain/grant.ts';
import { type AgentTask, pairsOf } from '../domain/intent.ts';
import type { WorkloadContext } from '../domain/trusted-issuer.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { bindProof } from './dpop-binding.ts';
import { parseIntent } from './parse-intent.ts';
import {
  actionHistoryOf,
  factsOf,
  historyUsage,
  pairInputs,
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

/** What policy decided for a mint request, before anything is stored: also what a consent page shows. */
export interface MintDecision {
  readonly requested: AgentTask[];
  /** Each pair as policy decided it (approval kept as asked). */
  readonly pairs: PairDecision[];
  /** The combined outcome (for a delegated request, pairs needing approval count as denied). */
  readonly decision: ReturnType<typeof combineDecisions>;
  readonly context: ContextSnapshot;
  readonly policyVersion: number;
  readonly jkt: string | undefined;
  /** The decision record's inputs. */
  readonly inputs: Record<string, unknown>;
}

/**
 * Decides a mint request: parses the intent (within its delegation's bounds), binds the DPoP
 * proof, and has policy decide every pair with the request's context. Stores nothing.
 */
export async function decideMint(
  broker: Broker,
  client: Client,
  req: MintRequest,
): Promise<MintDecision> {
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
    ...pairInputs(client, pairs),
  };
  return { requested, pairs, decision, context, policyVersion: policy.version, jkt, inputs };
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
