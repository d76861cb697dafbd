// The verdict of an action-time evaluation: one pure function for both evaluation paths (after a
// read, and from a snapshot of an earlier one) and the live context re-evaluation decides with too.
import { type AccessTokenClaims, audiences } from './access-token.ts';
import { type Client, servesAudience } from './client.ts';
import type { SignalSummary } from './drift.ts';
import { summarizedContext } from './drift.ts';
import type { ContextSnapshot, Grant, GrantStatus } from './grant.ts';
import type { AgentTask } from './intent.ts';
import { factsOf, type PolicyDecider, type ToolFacts, type UsageFacts } from './policy-facts.ts';
import { checkStep } from './steps.ts';

/**
 * The live context of a decision: the grant's approved context, with what its signals add up to
 * (latest ip, highest risk, every type seen), and the request's own `ip` over the signals' when given.
 */
export function liveContext(
  grant: Pick<Grant, 'context'>,
  signals: SignalSummary,
  ip?: string | undefined,
): ContextSnapshot {
  return {
    ...grant.context,
    ...summarizedContext(grant, signals),
    ...(ip === undefined ? {} : { ip }),
  };
}

/** What the signals in `signals` add up to (the SignalSummary a store keeps beside them). */
export function summaryOfSignals(
  signals: ReadonlyArray<{ type: string; risk?: number | undefined; context?: unknown }>,
): SignalSummary {
  let ip: string | undefined;
  let risk = 0;
  for (const s of signals) {
    const reported = (s.context as { ip?: unknown } | undefined)?.ip;
    if (typeof reported === 'string') ip = reported;
    risk = Math.max(risk, s.risk ?? 0);
  }
  return { version: signals.length, types: [...new Set(signals.map((s) => s.type))], ip, risk };
}

/** What a verdict needs of the grant: as an evaluation read it, or as a snapshot remembers it. */
export interface GrantFacts {
  readonly status: GrantStatus;
  readonly expires_at: number;
  readonly client_id: string;
  readonly jtiRevoked: boolean;
  /** Index of the last declared step taken (-1 before the first). */
  readonly lastStep: number;
  /** The live context without the request's ip (see liveContext). */
  readonly context: ContextSnapshot;
  readonly usage: UsageFacts;
}

/** The question an evaluation asks. */
export interface EvaluationQuestion {
  readonly action: string;
  readonly resource: string;
  readonly subject: string;
  readonly step?: string | undefined;
  readonly ip?: string | undefined;
  /** The call's token is DPoP-bound and its proof checked: `context.sender_constrained` is true. */
  readonly senderConstrained?: boolean | undefined;
  /** An MCP tool call's exposed arguments: `context.tool` for policy. */
  readonly tool?: ToolFacts | undefined;
}

/** An evaluation's verdict: allowed or not, with its reason code, the policies behind it and the step taken. */
export interface EvaluationVerdict {
  readonly allowed: boolean;
  readonly code: string;
  readonly en: string;
  readonly policies?: string[] | undefined;
  /** The declared step this call takes, when allowed on an entry with steps. */
  readonly step?: number | undefined;
  /** The policy version decided with, when policy was asked. */
  readonly policyVersion?: number | undefined;
}

const refuse = (code: string, en: string): EvaluationVerdict => ({ allowed: false, code, en });

/**
 * Whether an evaluation's `subject.id` names the token's subject: its `sub`, or for a delegated
 * token (RFC 8693 `act`) the agent acting (`client_id`) as well.
 */
export function isTokenSubject(
  id: string,
  claims: Pick<AccessTokenClaims, 'sub' | 'client_id' | 'act'>,
): boolean {
  return id === claims.sub || (claims.act !== undefined && id === claims.client_id);
}

/**
 * True only if the caller serves the token's audience and the resource, the subject holds the
 * token, the grant exists for the token's client and is active, the token is not revoked, the agent
 * is enabled, the pair is inside the grant, the declared step order holds, and policy permits it
 * with the live context and usage. The first check that fails names the verdict.
 */
export function evaluationVerdict(args: {
  readonly question: EvaluationQuestion;
  readonly claims: AccessTokenClaims;
  readonly caller: Client;
  readonly agent: Client | undefined;
  readonly grant: GrantFacts | undefined;
  /** The grant entry covering the pair (see entryFor). */
  readonly entry: AgentTask | undefined;
  readonly policy: PolicyDecider;
  readonly nowSec: number;
}): EvaluationVerdict {
  const { question: q, claims, caller, agent, grant, entry, policy, nowSec } = args;
  if (!servesAudience(caller, audiences(claims)))
    return refuse('foreign_audience', 'the token is not meant for your resources');
  if (!caller.resources.includes(q.resource))
    return refuse('foreign_resource', 'you do not serve this resource');
  if (!isTokenSubject(q.subject, claims))
    return refuse('subject_mismatch', 'the subject is not the token holder');
  if (!grant || grant.client_id !== claims.client_id)
    return refuse('grant_missing', 'the grant does not exist');
  if (grant.status !== 'active' || grant.expires_at <= nowSec)
    return refuse(
      `grant_${grant.status === 'active' ? 'expired' : grant.status}`,
      'the grant is not active',
    );
  if (grant.jtiRevoked) return refuse('token_revoked', 'the token was revoked');
  if (!agent || agent.disabled) return refuse('agent_disabled', 'the agent is disabled or deleted');
  if (!entry)
    return refuse('outside_grant', `the grant does not cover ${q.action} on this resource`);
  const stepCheck = entry.steps?.length
    ? checkStep(entry.steps, grant.lastStep, q.step)
    : undefined;
  if (stepCheck && !stepCheck.ok)
    return refuse(stepCheck.reason, `step ${q.step ?? '(none)'} is not allowed now`);
  const context = {
    ...grant.context,
    ...(q.ip === undefined ? {} : { ip: q.ip }),
    ...(q.senderConstrained ? { sender_constrained: true } : {}),
  };
  const facts = factsOf(agent, [entry], context, nowSec, grant.usage);
  const [decision] = policy.decide(q.tool ? { ...facts, tool: q.tool } : facts, [
    { entry: 0, action: q.action, location: q.resource },
  ]);
  return decision?.effect === 'permit'
    ? {
        allowed: true,
        code: 'permit',
        en: 'permitted',
        policies: decision.reasons,
        step: stepCheck?.ok ? stepCheck.index : undefined,
        policyVersion: policy.version,
      }
    : {
        allowed: false,
        code: decision?.effect === 'approval' ? 'approval_required' : 'policy_denied',
        en: 'policy does not permit this now',
        policies: decision?.reasons,
        policyVersion: policy.version,
      };
}

/** The entry of the token's grant that covers `action` on `resource`, if any. */
export function entryFor(
  claims: Pick<AccessTokenClaims, 'authorization_details'>,
  action: string,
  resource: string,
): AgentTask | undefined {
  return claims.authorization_details.find(
    (e) => e.actions.includes(action) && e.locations.includes(resource),
  );
}
