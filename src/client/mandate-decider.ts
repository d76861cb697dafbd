// Asks Mandate about one call: AuthZEN evaluation, or RFC 7662 introspection when the broker has none.
import { allowsPair } from '../domain/agent-task.ts';
import type { DiscoveredIssuer, FetchLike } from './discover-issuer.ts';
import type { MandateClaims } from './mandate-claims.ts';
import type { GrantedTask } from './mandate-client.ts';
import type { ResourceCredentials } from './resource-credentials.ts';
import type { TokenIntrospection } from './token-introspection.ts';

/**
 * Mandate's answer: permitted, or refused (`inactive` when the token itself is no longer live,
 * `grantEnded` when its grant is revoked, expired or gone for good, so no token of it will be).
 */
export type Verdict =
  | { decision: true }
  | { decision: false; inactive: boolean; grantEnded?: boolean };

const ENDED_GRANT_REASONS = new Set(['grant_revoked', 'grant_expired', 'grant_missing']);

/** Decides one call with the broker; throws when the broker cannot answer (the guard fails closed). */
export type MandateDecider = (
  issuer: DiscoveredIssuer,
  token: string,
  claims: MandateClaims,
  action: string,
  context?: Record<string, unknown>,
  forwarded?: ForwardedProof,
) => Promise<Verdict>;

/** A DPoP-bound token's proof and the request it names, forwarded to the evaluation (RFC 9449). */
export interface ForwardedProof {
  readonly proof: string;
  readonly method: string;
  readonly url: string;
}

/**
 * Reason codes of an evaluation that say the token itself is no longer good (RFC 6750
 * `invalid_token`): its grant is revoked, suspended (drifted), expired or gone, the token was
 * revoked, or its agent disabled. Any other refusal (outside the grant, policy, steps) leaves the
 * token valid for other calls (`insufficient_scope`).
 */
function isInactiveReason(code: unknown): boolean {
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('grant_') ||
    code.startsWith('token_') ||
    code === 'agent_disabled' ||
    code === 'foreign_audience'
  );
}

/**
 * Creates the decider of a resource client. It POSTs to `<issuer>/access/v1/evaluation`; once
 * that answers 404 it remembers and introspects instead, so each call costs one request.
 */
export function createMandateDecider(options: {
  readonly issuer: URL;
  readonly credentials: ResourceCredentials;
  readonly resource: string;
  readonly timeoutMs: number;
  readonly fetch: FetchLike;
  /** RFC 7662 introspection, used when the broker has no AuthZEN endpoint. */
  readonly introspect: TokenIntrospection;
}): MandateDecider {
  const { issuer, credentials, resource, timeoutMs, fetch: fetchImpl } = options;
  const evaluationUrl = new URL(
    'access/v1/evaluation',
    issuer.href.endsWith('/') ? issuer : `${issuer.href}/`,
  );
  let evaluationMissing = false;

  async function evaluate(
    d: DiscoveredIssuer,
    token: string,
    claims: MandateClaims,
    action: string,
    context?: Record<string, unknown>,
    forwarded?: ForwardedProof,
  ): Promise<Verdict | 'missing'> {
    const properties = forwarded ? { token, dpop: forwarded.proof } : { token };
    const http = forwarded ? { http: { method: forwarded.method, uri: forwarded.url } } : {};
    const body = {
      subject: { type: 'agent', id: claims.client_id ?? claims.sub ?? '', properties },
      action: { name: action },
      resource: { type: 'resource', id: resource },
      ...(context || forwarded ? { context: { ...context, ...http } } : {}),
    };
    const post = async () =>
      fetchImpl(evaluationUrl, {
        method: 'POST',
        headers: {
          authorization: await credentials.authorization(d),
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    let response = await post();
    if (response.status === 401) {
      // A caller token Mandate no longer takes (expired early, keys rotated): fetch one more, once.
      await response.body?.cancel();
      credentials.refused();
      response = await post();
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return 'missing';
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`evaluation answered ${response.status}`);
    }
    const answer = (await response.json()) as {
      decision?: unknown;
      context?: { reason_admin?: { code?: unknown } };
    };
    if (answer.decision === true) return { decision: true };
    const code = answer.context?.reason_admin?.code;
    // The broker could not check (its store is down): not a verdict on the token, fail closed.
    if (code === 'unavailable' || code === 'token_unavailable')
      throw new Error('Mandate cannot check this now');
    return {
      decision: false,
      inactive: isInactiveReason(code),
      grantEnded: typeof code === 'string' && ENDED_GRANT_REASONS.has(code),
    };
  }

  async function introspect(d: DiscoveredIssuer, token: string, action: string): Promise<Verdict> {
    const result = await options.introspect(d, token);
    if (!result) return { decision: false, inactive: true };
    const details = (result.authorization_details ?? []) as unknown as GrantedTask[];
    return allowsPair(details, action, resource)
      ? { decision: true }
      : { decision: false, inactive: false };
  }

  return async function decide(d, token, claims, action, context, forwarded) {
    const answer = evaluationMissing
      ? 'missing'
      : await evaluate(d, token, claims, action, context, forwarded);
    if (answer !== 'missing') return answer;
    // A broker without AuthZEN still answers RFC 7662; remember so each call costs one request.
    evaluationMissing = true;
    return introspect(d, token, action);
  };
}
