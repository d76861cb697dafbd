// The authorization code grant's pure rules: the /oauth/authorize parameters, redirect matching, and what is kept between the steps.
import { isLoopbackHost } from './client.ts';
import type { OnBehalfOf } from './delegation.ts';
import { OAuthError } from './errors.ts';
import { type AgentTask, actionsOfScope, MAX_ACTIONS_PER_TASK } from './intent.ts';
import { canonicalResources } from './resource-uri.ts';

/** How long a code may be redeemed (s). */
export const CODE_TTL_SEC = 60;
/** How long a person has to sign in upstream and answer the consent page (s). */
export const PENDING_TTL_SEC = 600;
/** Longest `state` accepted (it travels back in the redirect). */
const MAX_STATE_LENGTH = 512;
/** Most `resource` values in one request. */
const MAX_RESOURCES = 8;

/** A request's query, each name with every value it was sent with. */
export type QueryValues = (name: string) => readonly string[];

/** The two parameters that say where errors may go; until both are checked, errors are shown, never redirected. */
export interface ClientTarget {
  readonly clientId: string;
  readonly redirectUri: string;
}

/** The parameters of a valid authorization request, once the client and redirect are trusted. */
export interface AuthorizationParams {
  readonly state: string | undefined;
  /** base64url SHA-256 of the verifier (S256, RFC 7636). */
  readonly codeChallenge: string;
  readonly resources: readonly string[];
  readonly scope: string | undefined;
  readonly authorizationDetails: string | undefined;
}

/** One value of a parameter sent at most once (RFC 6749 3.1: repeated parameters are an error). */
function single(values: QueryValues, name: string): string | undefined {
  const all = values(name);
  if (all.length > 1) throw new OAuthError('invalid_request', `${name} is repeated`);
  return all[0];
}

/** client_id and redirect_uri, present once each; anything else about them is checked against the client. */
export function readClientTarget(values: QueryValues): ClientTarget {
  const clientId = single(values, 'client_id');
  const redirectUri = single(values, 'redirect_uri');
  if (!clientId || clientId.length > 2048)
    throw new OAuthError('invalid_request', 'client_id is required');
  if (!redirectUri || redirectUri.length > 2048)
    throw new OAuthError('invalid_request', 'redirect_uri is required');
  return { clientId, redirectUri };
}

/**
 * The rest of the request, read once its redirect is trusted (its errors go back there):
 * response_type=code, PKCE S256 (plain refused), resource (RFC 8707), scope and/or
 * authorization_details, and `state` when sent (echoed back).
 */
export function readAuthorizationParams(values: QueryValues): AuthorizationParams {
  const responseType = single(values, 'response_type');
  if (responseType !== 'code')
    throw new OAuthError('unsupported_response_type', 'response_type must be code');
  const method = single(values, 'code_challenge_method');
  const challenge = single(values, 'code_challenge');
  if (challenge === undefined)
    throw new OAuthError('invalid_request', 'code_challenge is required (PKCE S256)');
  if (method !== 'S256')
    throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge))
    throw new OAuthError('invalid_request', 'code_challenge must be a base64url SHA-256 digest');
  // OAuth 2.1 4.1.1: with PKCE, state is the client's choice (the MCP SDK sends it only when asked to).
  const state = single(values, 'state');
  if (state !== undefined && state.length > MAX_STATE_LENGTH)
    throw new OAuthError('invalid_request', `state is longer than ${MAX_STATE_LENGTH}`);
  const resources = values('resource');
  if (resources.length === 0)
    throw new OAuthError('invalid_target', 'resource is required (RFC 8707)');
  if (resources.length > MAX_RESOURCES)
    throw new OAuthError('invalid_target', `at most ${MAX_RESOURCES} resource values`);
  for (const r of resources) {
    if (r.length > 512 || !URL.canParse(r) || r.includes('#'))
      throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment');
  }
  // Neither scope nor authorization_details: the resources' registered tools (see defaultIntent).
  const scope = single(values, 'scope');
  const authorizationDetails = single(values, 'authorization_details');
  return {
    state,
    codeChallenge: challenge,
    // Held canonical, as the consent's decision (parseIntent) and the code's redemption hold them.
    resources: canonicalResources(resources),
    scope: scope ? toolScopes(scope) : undefined,
    authorizationDetails,
  };
}

/**
 * What a request naming neither scope nor authorization_details asks for: every action registered
 * for each of its resources (`served`: a resource's canonical URI to the actions resource clients
 * serve there, an MCP server's tool names), as one task's entries, each action on its own
 * resource only. Policy then decides each pair on the consent page. A resource with no tools
 * registered, or more tools than one request may ask for (`maxPairs`), is invalid_scope: the
 * client must then say what it wants.
 */
export function defaultIntent(
  resources: readonly string[],
  served: ReadonlyMap<string, readonly string[]>,
  taskId: string,
  maxPairs: number,
): string {
  const entries: AgentTask[] = [];
  let pairs = 0;
  for (const location of resources) {
    const actions = [...(served.get(location) ?? [])];
    if (actions.length === 0)
      throw new OAuthError(
        'invalid_scope',
        `scope or authorization_details is required: no tools are registered for ${location}`,
      );
    pairs += actions.length;
    for (let i = 0; i < actions.length; i += MAX_ACTIONS_PER_TASK)
      entries.push({
        type: 'agent_task',
        task_id: taskId,
        actions: actions.slice(i, i + MAX_ACTIONS_PER_TASK),
        locations: [location],
      });
  }
  if (entries.length === 0)
    throw new OAuthError('invalid_scope', 'scope or authorization_details is required');
  if (pairs > maxPairs)
    throw new OAuthError(
      'invalid_scope',
      `the requested resources register ${pairs} tools, more than one request may ask for (${maxPairs}): name the tools wanted in scope`,
    );
  return JSON.stringify(entries);
}

/** Scope values are actions; an MCP tool's scope `tools:<name>` names the action `<name>`. */
export function toolScopes(scope: string): string {
  return (actionsOfScope(scope) ?? []).join(' ');
}

/**
 * True when `presented` is one of the registered redirect URIs: the same string, or (RFC 8252 7.3)
 * for a registered loopback http URI, the same but for the port.
 */
export function redirectUriMatches(registered: readonly string[], presented: string): boolean {
  if (registered.includes(presented)) return true;
  if (!URL.canParse(presented) || presented.includes('#')) return false;
  const asked = new URL(presented);
  if (asked.protocol !== 'http:' || !isLoopbackHost(asked.hostname) || asked.port === '0')
    return false;
  return registered.some((r) => {
    if (!URL.canParse(r)) return false;
    const reg = new URL(r);
    return (
      reg.protocol === 'http:' &&
      reg.hostname === asked.hostname &&
      reg.pathname === asked.pathname &&
      reg.search === asked.search &&
      // The raw strings agree once the port is gone: no normalisation lets a variant through.
      withoutPort(r) === withoutPort(presented)
    );
  });
}

/** A loopback URI's text without its `:port` (the only part RFC 8252 7.3 lets vary). */
function withoutPort(uri: string): string {
  return uri.replace(
    /^(http:\/\/(?:127\.0\.0\.1|\[::1\]|localhost))(?::\d{1,5})?(?=[/?]|$)/i,
    '$1',
  );
}

/** The person who signed in at the upstream OpenID Provider. */
export interface SignedInPerson {
  readonly issuer: string;
  readonly sub: string;
  readonly groups: string[];
  readonly name?: string | undefined;
  readonly email?: string | undefined;
}

/** What a pending authorization request holds in the store while the person signs in and consents. */
export interface PendingAuthorization {
  readonly client_id: string;
  readonly redirect_uri: string;
  readonly state?: string | undefined;
  readonly code_challenge: string;
  readonly resources: readonly string[];
  readonly scope?: string | undefined;
  readonly authorization_details?: string | undefined;
  /** Upstream sign-in: the state, nonce and PKCE verifier Mandate sent as its relying party. */
  readonly login: { readonly state: string; readonly nonce: string; readonly verifier: string };
  /** Set once the person signed in. */
  readonly person?: SignedInPerson | undefined;
  /** The consent page's synchronizer token (set with the person). */
  readonly csrf?: string | undefined;
  /** What the consent page showed as granted (set with the person): what approving grants. */
  readonly consented?: AgentTask[] | undefined;
  /** Every requested pair as policy decided it for this person and client (set with the person). */
  readonly pairs?: readonly ConsentPair[] | undefined;
  readonly expires_at: number;
}

/** One requested (action, location) pair as the consent page lists it. */
export interface ConsentPair {
  readonly action: string;
  readonly location: string;
  readonly effect: 'permit' | 'deny' | 'approval';
  /** Ids of the policies that decided it. */
  readonly reasons: readonly string[];
}

/** A code as the store holds it (under its digest): what it was bound to and who approved it. */
export interface AuthorizationCode {
  readonly client_id: string;
  readonly redirect_uri: string;
  readonly code_challenge: string;
  readonly resources: readonly string[];
  readonly granted: AgentTask[];
  readonly person: OnBehalfOf & { readonly subject: string };
  readonly expires_at: number;
}

/** What a token request presents a code with: compared with the code's binding before it is spent. */
export interface CodePresentation {
  readonly clientId: string;
  readonly redirectUri: string;
  /** The base64url SHA-256 of the request's code_verifier (PKCE S256). */
  readonly codeChallenge: string;
  /** Canonical resources the request names (none: all the code's). */
  readonly resources: readonly string[];
  readonly nowSec: number;
}

/**
 * What redeeming a code found: the code on its first bound use, the grant it issued on a bound
 * replay, a binding that does not hold (`mismatch`, `foreign` resource: the code stays as it was),
 * or nothing (unknown, or expired unused).
 */
export type CodeRedemption =
  | { readonly status: 'first'; readonly code: AuthorizationCode }
  | { readonly status: 'replayed'; readonly grantId: string | undefined }
  | { readonly status: 'mismatch' }
  | { readonly status: 'foreign' }
  | { readonly status: 'unknown' };
