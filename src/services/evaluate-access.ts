// Action-time decisions (AuthZEN): may this token do this action on this resource, now?
// Over 350 lines on purpose: one evaluation path (parse, verify, read the grant, decide, record) that reads top to bottom.

import { isIP } from 'node:net';
import { z } from 'zod';
import { randomBase64url } from '../crypto/random-id.ts';
import { type AccessTokenClaims, audiences, InvalidToken } from '../domain/access-token.ts';
import { type Client, servesAudience } from '../domain/client.ts';
import type { SharedInputsRef } from '../domain/decision-record.ts';
import { actOfVerifiedToken } from '../domain/delegation.ts';
import { BEHAVIOUR_SIGNALS } from '../domain/drift.ts';
import { StateChanged, StoreUnavailable } from '../domain/errors.ts';
import {
  type EvaluationQuestion,
  type EvaluationVerdict,
  entryFor,
  evaluationVerdict,
  isTokenSubject,
  liveContext,
} from '../domain/evaluation.ts';
import type { Grant } from '../domain/grant.ts';
import type { EvaluationState, InspectedToken } from '../domain/ports.ts';
import { canonicalResource } from '../domain/resource-uri.ts';
import {
  MAX_TOOL_ARGUMENT_NAME,
  MAX_TOOL_ARGUMENT_STRING,
  MAX_TOOL_ARGUMENTS,
} from '../domain/tool-arguments.ts';
import type { AuthZenDecision } from '../domain/wire/authzen.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { type ForwardedProof, forwardedProofRejection, type ProofMemo } from './dpop-binding.ts';
import { grantFactsOf, guardOf, predictedCounts } from './grant-snapshots.ts';
import { proveToken, proveWithEvaluationRead } from './prove-token.ts';
import { reevaluateGrants } from './reevaluate-grants.ts';

const Name = z.string().min(1).max(200);

export const EvaluationSchema = z
  .object({
    subject: z
      .object({
        type: Name,
        id: Name,
        properties: z
          .object({
            token: z.string().min(1).max(16_384),
            dpop: z
              .string()
              .optional()
              .describe('the DPoP proof the resource received with a DPoP-bound token (RFC 9449)'),
            jkt: z
              .string()
              .max(128)
              .optional()
              .describe(
                'the key thumbprint of a proof the resource verified itself (only with dpop.trust_resource_verification)',
              ),
          })
          .passthrough(),
      })
      .strict(),
    action: z
      .object({ name: Name, properties: z.record(z.string(), z.unknown()).optional() })
      .strict(),
    resource: z
      .object({
        type: Name,
        id: z.string().min(1).max(512),
        properties: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
    context: z
      .object({
        ip: z
          .string()
          .max(64)
          .refine((v) => isIP(v) !== 0, 'must be an IP address')
          .optional(),
        step: Name.optional(),
        http: z
          .object({ method: z.string().min(1).max(16), uri: z.string().min(1).max(2048) })
          .strict()
          .optional()
          .describe('the guarded request, which a forwarded DPoP proof must name (htm, htu)'),
        tool: z
          .object({
            arguments: z
              .record(
                z.string().min(1).max(MAX_TOOL_ARGUMENT_NAME),
                z.union([
                  z.string().max(MAX_TOOL_ARGUMENT_STRING),
                  z.boolean(),
                  z.number().int().safe(),
                ]),
              )
              .refine(
                (a) => Object.keys(a).length <= MAX_TOOL_ARGUMENTS,
                `at most ${MAX_TOOL_ARGUMENTS} arguments`,
              ),
          })
          .strict()
          .optional()
          .describe(
            "an MCP tool call's arguments the resource shows policy (context.tool: { name: the action, arguments }); strings, booleans and integers",
          ),
      })
      .passthrough()
      .optional(),
  })
  .strict();
export type EvaluationRequest = z.infer<typeof EvaluationSchema>;

const deny = (
  decision_id: string,
  code: string,
  en: string,
  policies?: string[],
): AuthZenDecision => ({
  decision: false,
  context: { decision_id, reason_admin: { en, code, ...(policies?.length ? { policies } : {}) } },
});

/** The question a request asks; the token's binding (checked before) makes the call sender-constrained. */
const questionOf = (req: EvaluationRequest, claims: AccessTokenClaims): EvaluationQuestion => ({
  action: req.action.name,
  resource: req.resource.id,
  subject: req.subject.id,
  step: req.context?.step,
  ip: req.context?.ip,
  senderConstrained: claims.cnf !== undefined,
  ...(req.context?.tool
    ? { tool: { name: req.action.name, arguments: req.context.tool.arguments } }
    : {}),
});

/** What the resource forwarded of a DPoP-bound call. */
const forwardedOf = (req: EvaluationRequest): ForwardedProof => ({
  proof: req.subject.properties.dpop,
  jkt: req.subject.properties.jkt,
  method: req.context?.http?.method,
  uri: req.context?.http?.uri,
});

/**
 * What an evaluation's decision record keeps of its request: the usage as its path read it, and
 * the context as a copy or, when it is its batch's shared context (`shared`, recorded once by
 * shareBatchContext), only the reference to that record.
 */
function evaluationInputs<U>(
  req: EvaluationRequest,
  shared: SharedInputsRef | undefined,
  facts: { action: string; caller: string; resource: string; usage: U },
) {
  return {
    action: facts.action,
    caller: facts.caller,
    ...(shared ? { shared_context: shared } : { context: { ...(req.context ?? {}) } }),
    resource: facts.resource,
    subject: req.subject.id,
    usage: facts.usage,
  };
}

/**
 * Decides from the grant as the last full evaluation read it, in one Redis round trip: the
 * record's append re-checks atomically that the grant is unchanged and counts the call (see
 * EvaluationGuard). Only a permit of an action the agent used before, on an entry without
 * declared steps, that starts no re-evaluation, is answered here; undefined sends the call down
 * the full path (read, decide, record), as does a guard that no longer holds. The record's usage
 * holds the ranges of counts the decision holds for (checked by the guard), not the counts.
 */
async function decideFromSnapshot(
  broker: Broker,
  caller: Client,
  req: EvaluationRequest,
  claims: AccessTokenClaims,
  nowSec: number,
  shared: SharedInputsRef | undefined,
): Promise<AuthZenDecision | undefined> {
  const { snapshots } = broker;
  const snapshot = snapshots.get(claims.grant_id);
  if (!snapshot) return undefined;
  const action = req.action.name;
  const resource = req.resource.id;
  const entry = entryFor(claims, action, resource);
  if (!entry || entry.steps?.length || !snapshot.usedActions.has(action)) return undefined;
  if (snapshot.clientId !== claims.client_id || snapshot.expiresAt <= nowSec) return undefined;
  if (
    !servesAudience(caller, audiences(claims)) ||
    !caller.resources.includes(resource) ||
    !isTokenSubject(req.subject.id, claims)
  )
    return undefined;
  const agent = await broker.clients.get(claims.client_id);
  if (!agent || agent.disabled) return undefined;

  const { calls, denied } = predictedCounts(snapshot, nowSec);
  // The call that crosses the re-evaluation threshold starts a re-evaluation: the full path's
  // work. No range below holds that count unless it is the prediction.
  const reevaluateAt = broker.settings.reevaluateAtCallsPerMinute + 1;
  if (calls === reevaluateAt) return undefined;
  const policy = broker.policy.current();
  // The same verdict as after a read, over the grant as the snapshot remembers it (the guard
  // checks that it still is): only a permit is answered here.
  const decision = evaluationVerdict({
    question: questionOf(req, claims),
    claims,
    caller,
    agent,
    grant: grantFactsOf(snapshot, calls, denied),
    entry,
    policy,
    nowSec,
  });
  if (!decision.allowed) return undefined;
  snapshot.callsAtSec = nowSec;
  snapshot.calls = calls;

  const { usage, guard } = guardOf(snapshot, {
    claims,
    action,
    reads: policy.reads,
    calls,
    denied,
    reevaluateAt,
    nowSec,
  });
  const inputs = evaluationInputs(req, shared, {
    action,
    caller: caller.client_id,
    resource,
    usage,
  });
  let decisionId: string;
  try {
    const record = await broker.evaluations.commit(
      {
        kind: 'evaluation',
        outcome: 'permit',
        reasons: ['permit', ...(decision.policies ?? [])],
        client_id: claims.client_id,
        grant_id: claims.grant_id,
        task_id: snapshot.taskId,
        policy_version: policy.version,
        inputs,
      },
      guard,
    );
    decisionId = record.id;
  } catch (err) {
    if (err instanceof StateChanged) {
      snapshots.delete(claims.grant_id);
      broker.metrics.evaluationPath('stale');
      return undefined;
    }
    // As on the full path: a decision that cannot be recorded is not given.
    broker.metrics.evaluationPath('snapshot');
    broker.metrics.decision('evaluation', 'deny');
    return deny(
      `d-unrecorded-${randomBase64url(6)}`,
      'unavailable',
      'Mandate cannot record this decision now',
    );
  }
  broker.metrics.evaluationPath('snapshot');
  broker.metrics.decision('evaluation', 'permit');
  return { decision: true, context: { decision_id: decisionId } };
}

/**
 * True only if the token is live (as introspection checks it), a DPoP-bound token comes with a
 * valid forwarded proof, the caller serves the resource, the pair is inside the grant, the
 * declared step order holds, and policy permits it with the live context and usage. Every call is
 * recorded; every call with a usable token is counted. `proofs` shares proof checks in a batch.
 */
export async function evaluateAccess(
  broker: Broker,
  caller: Client,
  req: EvaluationRequest,
  shared?: SharedInputsRef,
  proofs?: ProofMemo,
): Promise<AuthZenDecision> {
  // Resources are held in canonical form (see canonicalResource): ask in it too.
  const resourceId = canonicalResource(req.resource.id);
  const asked =
    resourceId === req.resource.id
      ? req
      : { ...req, resource: { ...req.resource, id: resourceId } };
  const answer = await decideAccess(broker, caller, asked, shared, proofs);
  // A permit for a delegated token says who acts (RFC 8693 act): the token verified to get here.
  const act = answer.decision ? actOfVerifiedToken(req.subject.properties.token) : undefined;
  return act ? { ...answer, context: { ...answer.context, act } } : answer;
}

async function decideAccess(
  broker: Broker,
  caller: Client,
  req: EvaluationRequest,
  shared?: SharedInputsRef,
  proofs?: ProofMemo,
): Promise<AuthZenDecision> {
  const nowSec = nowSecOf(broker);
  const action = req.action.name;
  const resource = req.resource.id;
  let verdict: EvaluationVerdict;
  let grant: Omit<Grant, 'status' | 'reason'> | undefined;
  let usage: Record<string, unknown> = {};
  let clientId: string | undefined;
  let grantId: string | undefined;
  let policyVersion: number | undefined;

  try {
    const token = req.subject.properties.token;
    let claims: AccessTokenClaims | undefined;
    // A token not proven before is proven by the grant's evaluation read (one round trip for
    // both, see proveWithEvaluationRead), unless it is DPoP-bound: its forwarded proof is checked
    // against proven claims, before the grant is read or counted.
    let unprovenRead: InspectedToken | undefined;
    let state: EvaluationState | undefined;
    try {
      const read = await broker.verifier.inspect(token);
      if (read.known || read.claims.cnf) claims = await proveToken(broker, token, read);
      else unprovenRead = read;
      verdict = { allowed: false, code: 'undecided', en: 'not decided' };
    } catch (err) {
      if (!(err instanceof InvalidToken)) throw err;
      verdict = { allowed: false, code: `token_${err.reason}`, en: 'the token is not valid' };
    }
    // A bound token without a valid proof by its key is refused before the grant is read or counted.
    const unproven =
      claims && (await forwardedProofRejection(broker, claims, token, forwardedOf(req), proofs));
    if (claims && unproven) {
      clientId = claims.client_id;
      grantId = claims.grant_id;
      verdict = {
        allowed: false,
        code: unproven === 'missing' ? 'dpop_proof_missing' : 'dpop_proof_invalid',
        en: 'the DPoP-bound token needs a valid proof by its key for this request',
      };
    } else if (claims) {
      const answered = await decideFromSnapshot(broker, caller, req, claims, nowSec, shared);
      if (answered) return answered;
      state = await broker.evaluations.read(
        claims.grant_id,
        claims.jti,
        claims.client_id,
        action,
        nowSec,
      );
    } else if (unprovenRead) {
      try {
        ({ claims, state } = await proveWithEvaluationRead(
          broker,
          token,
          unprovenRead,
          action,
          nowSec,
        ));
      } catch (err) {
        if (!(err instanceof InvalidToken)) throw err;
        verdict = { allowed: false, code: `token_${err.reason}`, en: 'the token is not valid' };
      }
    }
    if (claims && verdict.code === 'undecided') {
      broker.metrics.evaluationPath('read');
      clientId = claims.client_id;
      const entry = entryFor(claims, action, resource);
      if (state) {
        grant = state.grant;
        usage = {
          calls_last_minute: state.callsLastMinute,
          denied_last_hour: state.deniedLastHour,
          new_action: !state.actionUsedBefore,
        };
      }
      const agent = await broker.clients.get(claims.client_id);
      verdict = evaluationVerdict({
        question: questionOf(req, claims),
        claims,
        caller,
        agent,
        grant: state && {
          status: state.status,
          expires_at: state.expires_at,
          client_id: state.client_id,
          jtiRevoked: state.jtiRevoked,
          lastStep: state.lastStep,
          context: liveContext(state.grant, state.signals),
          usage: {
            calls_last_minute: state.callsLastMinute,
            denied_last_hour: state.deniedLastHour,
            used_actions: state.actionUsedBefore ? new Set([action]) : new Set(),
          },
        },
        entry,
        policy: broker.policy.current(),
        nowSec,
      });
      policyVersion = verdict.policyVersion;
      if (state) {
        const denied = await broker.evaluations.recordOutcome({
          grantId: claims.grant_id,
          clientId: claims.client_id,
          action,
          allowed: verdict.allowed,
          newAction: !state.actionUsedBefore,
          step: verdict.step,
          expiresAt: state.expires_at,
          nowSec,
        });
        broker.snapshots.remember(state, action, verdict.allowed, denied, nowSec);
        // Off-intent behaviour is drift: recorded on the grant and decided again now.
        const behaviour =
          verdict.code === 'step_out_of_order'
            ? BEHAVIOUR_SIGNALS.stepOutOfOrder
            : verdict.code === 'outside_grant' && !state.actionUsedBefore
              ? BEHAVIOUR_SIGNALS.neverUsedAction
              : undefined;
        if (behaviour && state.status === 'active') {
          await broker.grants.addSignal(claims.grant_id, {
            type: behaviour,
            context: { action, resource, step: req.context?.step },
            at: nowSec,
          });
          await reevaluateGrants(broker, [claims.grant_id], `behaviour:${behaviour}`);
        }
        // Crossing a usage threshold re-decides the grant at once, not at the next sweep.
        if (
          state.callsLastMinute === broker.settings.reevaluateAtCallsPerMinute + 1 ||
          denied === broker.settings.reevaluateAtDeniedPerHour + 1
        ) {
          await broker.reevaluator.enqueue([claims.grant_id], 'usage_threshold');
        }
      }
    }
  } catch (err) {
    if (!(err instanceof StoreUnavailable)) throw err;
    verdict = { allowed: false, code: 'unavailable', en: 'Mandate cannot check this now' };
  }

  const final = verdict;
  const inputs = evaluationInputs(req, shared, {
    action,
    caller: caller.client_id,
    resource,
    usage,
  });
  let decisionId: string | undefined;
  try {
    const record = await broker.evaluations.commit({
      kind: 'evaluation',
      outcome: final.allowed ? 'permit' : 'deny',
      reasons: [final.code, ...(final.policies ?? [])],
      client_id: clientId,
      grant_id: grant?.id ?? grantId,
      task_id: grant?.task_id,
      policy_version: policyVersion,
      inputs,
    });
    decisionId = record.id;
  } catch (err) {
    // A decision that cannot be recorded is not given.
    decisionId = `d-unrecorded-${randomBase64url(6)}`;
    if (final.allowed)
      return deny(decisionId, 'unavailable', 'Mandate cannot record this decision now');
    if (!(err instanceof StoreUnavailable)) throw err;
  }
  broker.metrics.decision('evaluation', final.allowed ? 'permit' : 'deny');
  return final.allowed
    ? { decision: true, context: { decision_id: decisionId } }
    : deny(decisionId, final.code, final.en, final.policies);
}
