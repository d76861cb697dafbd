// Parses a token request's intent (authorization_details, or scope + resource) and checks it against the pair limits.
import { randomBase64url } from '../crypto/random-id.ts';
import { OAuthError } from '../domain/errors.ts';
import {
  type AgentTask,
  AUTHORIZATION_DETAILS_JSON_LIMITS,
  AuthorizationDetailsSchema,
  actionsOfScope,
  type IntentLimits,
  intentOverLimits,
} from '../domain/intent.ts';
import { parseJsonWithin } from '../domain/json-bounds.ts';
import { canonicalResources } from '../domain/resource-uri.ts';

export { actionsOfScope, TOOL_SCOPE_PREFIX } from '../domain/intent.ts';

/** The intent parameters of a token request. */
export interface IntentRequest {
  /** The raw `authorization_details` parameter (JSON text), if sent. */
  readonly authorizationDetails: string | undefined;
  readonly resources: readonly string[];
  readonly scope: string | undefined;
}

/**
 * Parses and checks the requested intent; throws invalid_authorization_details / invalid_target /
 * invalid_scope. The intent returned is what policy will decide and the grant will hold, so the
 * pair limits are checked on it, before any decision.
 */
export function parseIntent(req: IntentRequest, limits: IntentLimits): AgentTask[] {
  return withinLimits(parseEntries(req), limits);
}

function parseEntries(asked: IntentRequest): AgentTask[] {
  for (const r of asked.resources) {
    if (!URL.canParse(r) || r.includes('#'))
      throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment');
  }
  // Resources are compared and held in canonical form (scheme and host lower-cased, no trailing slash).
  const req = { ...asked, resources: canonicalResources(asked.resources) };
  const scopes = actionsOfScope(req.scope);
  if (req.authorizationDetails === undefined) {
    // A plain OAuth client: scope names the actions, resource the locations.
    if (!scopes?.length || req.resources.length === 0) {
      throw new OAuthError(
        'invalid_request',
        'authorization_details is required (or both scope and resource)',
      );
    }
    return validate([
      {
        type: 'agent_task',
        task_id: `adhoc-${randomBase64url(6)}`,
        actions: scopes,
        locations: [...req.resources],
      },
    ]);
  }
  const raw = parseJsonWithin(
    req.authorizationDetails,
    AUTHORIZATION_DETAILS_JSON_LIMITS,
    'authorization_details',
  );
  if (!raw.ok) throw new OAuthError('invalid_authorization_details', raw.message);
  let entries = validate(raw.value).map((e) => ({
    ...e,
    locations: canonicalResources(e.locations),
  }));
  if (req.resources.length) {
    const requested = new Set(entries.flatMap((e) => e.locations));
    const foreign = req.resources.find((r) => !requested.has(r));
    if (foreign)
      throw new OAuthError('invalid_target', 'resource is not among the requested locations');
    entries = entries.map((e) => ({
      ...e,
      locations: e.locations.filter((l) => req.resources.includes(l)),
    }));
  }
  if (scopes?.length) {
    entries = entries
      .map((e) => ({ ...e, actions: e.actions.filter((a) => scopes.includes(a)) }))
      .filter((e) => e.actions.length);
    if (!entries.length)
      throw new OAuthError('invalid_scope', 'scope names none of the requested actions');
  }
  return entries;
}

function withinLimits(entries: AgentTask[], limits: IntentLimits): AgentTask[] {
  const over = intentOverLimits(entries, limits);
  if (over) throw new OAuthError('invalid_authorization_details', `authorization_details: ${over}`);
  return entries;
}

function validate(raw: unknown): AgentTask[] {
  const parsed = AuthorizationDetailsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'authorization_details';
  throw new OAuthError('invalid_authorization_details', `${where}: ${issue?.message ?? 'invalid'}`);
}
