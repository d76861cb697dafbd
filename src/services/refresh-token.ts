// refresh_token grant: re-decide the grant with the current context, rotate the refresh token, sign.
import { randomBase64url } from '../crypto/random-id.ts';
import { parseRefreshToken, refreshHashMark } from '../domain/access-token.ts';
import type { Client } from '../domain/client.ts';
import { combineDecisions, reasonsOf } from '../domain/decision.ts';
import type { DpopProofFacts } from '../domain/dpop.ts';
import { OAuthError } from '../domain/errors.ts';
import { type ContextSnapshot, type Grant, isGrantLive } from '../domain/grant.ts';
import { allowsPair, isWithin, pairsOf } from '../domain/intent.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { expiresIn, requestApproval } from './approvals.ts';
import { hashSecret } from './authenticate-client.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { cascadeToChildren } from './cascade-delegation.ts';
import { bindProof } from './dpop-binding.ts';
import { prepareAccessToken, signAccessToken, tokenResponse } from './issue-access-token.ts';
import { parseIntent } from './parse-intent.ts';
import {
  actionHistoryOf,
  factsOf,
  historyUsage,
  pairInputs,
  usageInputs,
} from './policy-facts-of.ts';

export interface RefreshRequest {
  readonly refreshToken: string | undefined;
  readonly ip: string | undefined;
  /** A wider intent for the same task: just-in-time elevation, decided now like a new request. */
  readonly authorizationDetails?: string | undefined;
  readonly resources?: readonly string[];
  readonly scope?: string | undefined;
  /** The request's checked DPoP proof (jti not yet claimed); a bound grant needs one by its key. */
  readonly dpop?: DpopProofFacts | undefined;
}

const invalidGrant = () =>
  new OAuthError('invalid_grant', 'refresh token is invalid, expired or revoked');

export async function refreshToken(
  broker: Broker,
  client: Client,
  req: RefreshRequest,
): Promise<TokenResponse> {
  if (!req.refreshToken) throw new OAuthError('invalid_request', 'refresh_token is required');
  const parsed = parseRefreshToken(req.refreshToken);
  if (!parsed) throw invalidGrant();
  const grant = await broker.grants.get(parsed.grantId);
  // Another client's refresh token is simply invalid: only the owner can trigger replay revocation.
  if (!grant || grant.client_id !== client.client_id) throw invalidGrant();
  const presentedHash = hashSecret(parsed.secret);
  const nowSec = nowSecOf(broker);
  const audit = { client_id: client.client_id, grant_id: grant.id, task_id: grant.task_id };

  if (presentedHash !== grant.refresh_hash) {
    if (grant.used_refresh_hashes.includes(refreshHashMark(presentedHash)))
      await revokeForReplay(broker, grant, nowSec, audit);
    throw invalidGrant();
  }
  if (!isGrantLive(grant, nowSec)) throw invalidGrant();
  // A bound grant's refresh token works only with a proof by its key: a refusal rotates nothing.
  const jkt = await bindProof(broker, client, req.dpop, grant.jkt);

  const context = {
    ...grant.context,
    ip: req.ip ?? grant.context.ip,
    sender_constrained: jkt !== undefined,
  };
  if (req.authorizationDetails !== undefined) {
    // A sub-agent's grant is bounded by its parent's: it gets more only by a new exchange.
    if (grant.delegation?.parent)
      throw new OAuthError(
        'invalid_request',
        'a grant delegated from another cannot be widened; exchange the parent token again',
      );
    return elevate(broker, client, grant, presentedHash, context, nowSec, jkt, {
      authorizationDetails: req.authorizationDetails,
      resources: req.resources ?? [],
      scope: req.scope,
    });
  }
  const policy = broker.policy.current();
  const usage = historyUsage(
    await actionHistoryOf(broker.usage, policy.reads, client.client_id, grant.granted),
  );
  const pairs = policy.decide(
    factsOf(client, grant.granted, context, nowSec, usage),
    pairsOf(grant.granted),
  );
  // On refresh, pairs that would need a human now are not granted: only what policy permits outright.
  const decision = combineDecisions(
    grant.granted,
    pairs.map((p) => (p.effect === 'approval' ? { ...p, effect: 'deny' as const } : p)),
  );
  const inputs = {
    request: { grant_type: 'refresh_token' },
    context: { ...context, now: nowSec },
    ...(usage.used_actions ? { usage: usageInputs(usage, grant.granted) } : {}),
    ...pairInputs(client, pairs),
  };

  if (decision.outcome === 'deny') {
    const { revoked, tokens } = await broker.grants.revokeGrant(
      grant.id,
      'policy_denied_on_refresh',
      nowSec,
    );
    if (revoked) await broker.notifier.revoked(grant, 'policy_denied_on_refresh');
    await cascadeToChildren(broker, grant.id, {
      kind: 'revoke',
      reason: 'policy_denied_on_refresh',
    });
    await broker.decisions.record({
      ...audit,
      kind: 'refresh',
      outcome: 'revoke',
      reasons: reasonsOf(pairs, 'deny'),
      policy_version: policy.version,
      inputs: { ...inputs, tokens_revoked: tokens },
    });
    broker.metrics.decision('refresh', 'revoke');
    throw new OAuthError('access_denied', 'policy no longer permits this grant');
  }

  const narrowed = decision.outcome === 'narrow';
  const nextSecret = randomBase64url(32);
  const prepared = prepareAccessToken(broker, client, grant, decision.granted, nowSec, jkt);
  // Signed before the rotation, which stores the token's digest with it. A refused refresh drops
  // the signature unused (it was never stored or sent).
  const access = await signAccessToken(broker, prepared);
  const rotation = broker.grants.refresh(
    grant.id,
    presentedHash,
    {
      refreshHash: hashSecret(nextSecret),
      token: access,
      granted: narrowed ? decision.granted : undefined,
      policyVersion: policy.version,
    },
    nowSec,
  );
  const outcome = await rotation;
  if (outcome === 'replay') {
    await cascadeToChildren(broker, grant.id, { kind: 'revoke', reason: 'refresh_token_replay' });
    await broker.decisions.record({
      ...audit,
      kind: 'revocation',
      outcome: 'revoke',
      reasons: ['refresh_token_replay'],
      inputs: {},
    });
    throw invalidGrant();
  }
  if (outcome !== 'ok') throw invalidGrant();
  if (narrowed) {
    await broker.notifier.narrowed(grant, decision.granted, 'policy_narrowed_on_refresh');
    await cascadeToChildren(broker, grant.id, {
      kind: 'narrow',
      reason: 'policy_narrowed_on_refresh',
      granted: decision.granted,
    });
  }

  await broker.decisions.record({
    ...audit,
    kind: 'refresh',
    outcome: decision.outcome,
    reasons: reasonsOf(pairs, narrowed ? 'deny' : 'permit'),
    policy_version: policy.version,
    inputs: { ...inputs, granted: decision.granted, jti: prepared.jti },
  });
  broker.metrics.tokenMinted('refresh_token');
  broker.metrics.decision('refresh', decision.outcome);
  return tokenResponse(access, decision.granted, grant.id, nextSecret);
}

async function revokeForReplay(
  broker: Broker,
  grant: Pick<Grant, 'id' | 'granted'>,
  nowSec: number,
  audit: { client_id: string; grant_id: string; task_id: string },
): Promise<void> {
  const { revoked, tokens } = await broker.grants.revokeGrant(
    grant.id,
    'refresh_token_replay',
    nowSec,
  );
  if (revoked)
    await broker.notifier.revoked(
      { id: grant.id, client_id: audit.client_id, task_id: audit.task_id, granted: grant.granted },
      'refresh_token_replay',
    );
  await cascadeToChildren(broker, grant.id, { kind: 'revoke', reason: 'refresh_token_replay' });
  await broker.decisions.record({
    ...audit,
    kind: 'revocation',
    outcome: 'revoke',
    reasons: ['refresh_token_replay'],
    inputs: { revoked, tokens },
  });
  broker.metrics.revocation('refresh_replay', tokens);
}

/**
 * Just-in-time elevation: the agent asks for more on the same task with its refresh token. The
 * wider intent is decided now (possibly via an approval); it never outlives the task's deadline.
 */
async function elevate(
  broker: Broker,
  client: Client,
  grant: Grant,
  presentedHash: string,
  context: ContextSnapshot,
  nowSec: number,
  jkt: string | undefined,
  req: { authorizationDetails: string; resources: readonly string[]; scope: string | undefined },
): Promise<TokenResponse> {
  const requested = parseIntent(req, broker.settings.intentLimits);
  if (requested.some((e) => e.task_id !== grant.task_id)) {
    throw new OAuthError(
      'invalid_authorization_details',
      `elevation must stay on task ${grant.task_id}`,
    );
  }
  const policy = broker.policy.current();
  const usage = historyUsage(
    await actionHistoryOf(broker.usage, policy.reads, client.client_id, requested),
  );
  const decided = policy.decide(
    factsOf(client, requested, { ...context, approved: false }, nowSec, usage),
    pairsOf(requested),
  );
  // Pairs a human already approved for this grant stay approved.
  const pairs = decided.map((p) =>
    p.effect === 'approval' &&
    grant.context.approved &&
    allowsPair(grant.granted, p.pair.action, p.pair.location)
      ? { ...p, effect: 'permit' as const }
      : p,
  );
  const decision = combineDecisions(requested, pairs);
  const audit = {
    client_id: client.client_id,
    grant_id: grant.id,
    task_id: grant.task_id,
    policy_version: policy.version,
  };
  const inputs = {
    request: { grant_type: 'refresh_token', authorization_details: requested },
    context: { ...context, now: nowSec },
    ...(usage.used_actions ? { usage: usageInputs(usage, requested) } : {}),
    granted_before: grant.granted,
  };
  if (decision.outcome === 'deny') {
    await broker.decisions.record({
      ...audit,
      kind: 'refresh',
      outcome: 'elevation_denied',
      reasons: reasonsOf(pairs),
      inputs,
    });
    throw new OAuthError('access_denied', 'policy does not permit the wider request');
  }
  if (decision.outcome === 'approval') {
    const approval = await requestApproval(broker, {
      kind: 'elevation',
      client,
      intent: requested,
      pairs,
      grant,
    });
    await broker.decisions.record({
      ...audit,
      kind: 'refresh',
      outcome: 'approval_required',
      reasons: reasonsOf(pairs, 'approval'),
      inputs: { ...inputs, auth_req_id: approval.id },
    });
    throw new OAuthError(
      'approval_required',
      'a human must approve the wider request; poll with the CIBA grant type',
      {
        auth_req_id: approval.id,
        expires_in: expiresIn(broker, approval, nowSec),
        interval: approval.interval,
      },
    );
  }
  const nextSecret = randomBase64url(32);
  const prepared = prepareAccessToken(broker, client, grant, decision.granted, nowSec, jkt);
  const widened = isWithin(grant.granted, decision.granted);
  const access = await signAccessToken(broker, prepared);
  const rotation = broker.grants.refresh(
    grant.id,
    presentedHash,
    {
      refreshHash: hashSecret(nextSecret),
      token: access,
      granted: decision.granted,
      requested,
      widened,
      policyVersion: policy.version,
    },
    nowSec,
  );
  const outcome = await rotation;
  if (outcome !== 'ok') throw invalidGrant();
  await broker.decisions.record({
    ...audit,
    kind: 'refresh',
    outcome: 'elevate',
    reasons: reasonsOf(pairs, 'permit'),
    inputs: { ...inputs, granted: decision.granted, jti: prepared.jti },
  });
  broker.metrics.tokenMinted('refresh_token');
  broker.metrics.decision('refresh', 'elevate');
  return tokenResponse(access, decision.granted, grant.id, nextSecret);
}
