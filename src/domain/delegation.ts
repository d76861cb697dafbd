// Delegation (RFC 8693): who a grant acts for, its act chain, what a sub-agent may get of a parent grant, may_act.
import { z } from 'zod';
import { type AgentTask, allowsPair, narrowEntries, pairsOf } from './intent.ts';

export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 3: the token types Mandate takes and issues. */
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
} as const;

/** The JOSE `typ` of an Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** RFC 8693 4.1: the current actor, with the prior ones nested under `act`. */
export interface ActClaim {
  readonly sub: string;
  readonly act?: ActClaim | undefined;
}

export const ActClaimSchema = z
  .object({
    sub: z.string().min(1).max(1024),
    get act(): z.ZodOptional<z.ZodType<ActClaim>> {
      return ActClaimSchema.optional();
    },
  })
  .meta({
    id: 'ActClaim',
    description: 'RFC 8693 4.1 actor claim: the current actor, prior actors nested',
  });

/** The person a grant acts for (`context.on_behalf_of` in Cedar). */
export interface OnBehalfOf {
  readonly issuer: string;
  readonly sub: string;
  readonly groups: string[];
}

/** What a delegated grant carries beside its agent: the subject of its tokens, their `act`, and its parent grant. */
export interface Delegation {
  /** The tokens' `sub`: the root subject (a person `<issuer>|<sub>`, or the agent that started the chain). */
  readonly subject: string;
  readonly act: ActClaim;
  /** The grant this one was delegated from (agent to agent), if any. */
  readonly parent?: string | undefined;
}

/** How many act levels a claim nests (0 for none). */
export function actDepth(act: ActClaim | undefined): number {
  let depth = 0;
  for (let a = act; a; a = a.act) depth += 1;
  return depth;
}

/** The act claim of a token `actor` now acts under, the prior chain (if any) nested beneath it. */
export function nestAct(actor: string, prior: ActClaim | undefined): ActClaim {
  return prior ? { sub: actor, act: prior } : { sub: actor };
}

/** The `sub` of a token acting for a person of a trusted issuer. */
export function personSubject(issuer: string, sub: string): string {
  return `${issuer}|${sub}`;
}

/**
 * RFC 8693 4.4: a subject token's `may_act`, when present, names who may act for its subject.
 * True when it is absent or its `sub` is `clientId`; a malformed one names nobody.
 */
export function mayAct(payload: Readonly<Record<string, unknown>>, clientId: string): boolean {
  if (!('may_act' in payload)) return true;
  const m = payload.may_act;
  return typeof m === 'object' && m !== null && (m as { sub?: unknown }).sub === clientId;
}

/** The person's groups from a subject token's `groups` claim: strings only, bounded. */
export function groupsClaim(payload: Readonly<Record<string, unknown>>): string[] {
  const g = payload.groups;
  if (!Array.isArray(g)) return [];
  return g
    .filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256)
    .slice(0, 64);
}

/**
 * What a sub-agent may get of a parent grant: the requested pairs the parent holds, in the
 * requested entries' shape (narrowEntries). Empty when none is held.
 */
export function withinParent(
  requested: readonly AgentTask[],
  parent: readonly AgentTask[],
): AgentTask[] {
  const held = pairsOf(requested).filter((p) => allowsPair(parent, p.action, p.location));
  return narrowEntries(requested, held);
}

/**
 * The `act` claim of a compact JWT, read without verifying it: only for a token already verified
 * (an evaluation's permit says it was).
 */
export function actOfVerifiedToken(token: string): ActClaim | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      act?: unknown;
    } | null;
    // Most tokens are not delegated: no schema work for them (this runs on every permit).
    if (claims?.act === undefined) return undefined;
    const parsed = ActClaimSchema.safeParse(claims.act);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
