// The authorization code grant's browser steps: check the request, send the person to sign in upstream, decide, and answer the consent page.
import { hash, timingSafeEqual } from 'node:crypto';
import { randomBase64url } from '../crypto/random-id.ts';
import {
  type AuthorizationParams,
  type ClientTarget,
  CODE_TTL_SEC,
  defaultIntent,
  PENDING_TTL_SEC,
  type PendingAuthorization,
  redirectUriMatches,
} from '../domain/authorization-request.ts';
import type { AuthorizationStore, PersonSignIn } from '../domain/authorization-store.ts';
import type { Client } from '../domain/client.ts';
import type { ClientMetadataDocuments } from '../domain/client-metadata.ts';
import type { PairDecision } from '../domain/decision.ts';
import { nestAct, personSubject } from '../domain/delegation.ts';
import { OAuthError } from '../domain/errors.ts';
import type { AgentTask } from '../domain/intent.ts';
import { canonicalResources } from '../domain/resource-uri.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { type DelegatedMint, decideMint } from './decide-mint.ts';
import { authorizingClient } from './metadata-client.ts';

export const AUTHORIZATION_CODE_GRANT_TYPE = 'authorization_code';

/** What the authorization code grant needs beside the broker. */
export interface AuthorizeDeps {
  readonly broker: Broker;
  readonly store: AuthorizationStore;
  /** The upstream OpenID Provider (config login.oidc); without it /oauth/authorize refuses. */
  readonly signIn: PersonSignIn | undefined;
  /** Client ID Metadata Documents (https client ids); without it such a client is invalid_client. */
  readonly documents?: ClientMetadataDocuments | undefined;
  /** Where the upstream provider sends the person back: `<issuer>/oauth/callback`. */
  readonly callbackUri: string;
  /** Authorization requests one source may start per minute (config `login.starts_per_source_per_minute`). */
  readonly startsPerSourcePerMinute?: number | undefined;
  /** The tools a request without scope asks for (createServedTools). */
  readonly servedTools: () => Promise<ServedTools>;
}

/**
 * The client and redirect of a request, checked: an enabled agent, and a redirect_uri it
 * registered (exactly; a loopback one with any port). Throws before anything may be redirected.
 */
export async function trustedTarget(deps: AuthorizeDeps, target: ClientTarget): Promise<Client> {
  const client = await authorizingClient(deps.broker, target.clientId, deps.documents, {
    remember: false,
  });
  if (!redirectUriMatches(client.redirect_uris ?? [], target.redirectUri))
    throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client');
  return client;
}

/** The tools (actions) enabled resource clients register, by canonical resource URI. */
export type ServedTools = ReadonlyMap<string, readonly string[]>;

/** How long a read of the served tools answers requests without scope before it is read again. */
const SERVED_TOOLS_TTL_MS = 5_000;

/**
 * The served tools, read from the client store at most once per `ttlMs` (and once at a time):
 * reading and parsing every client record is the price, so a stream of requests without scope
 * pays it once per period, not once per request. A tool registered meanwhile shows after at most
 * `ttlMs`.
 */
export function createServedTools(
  broker: Broker,
  ttlMs = SERVED_TOOLS_TTL_MS,
): () => Promise<ServedTools> {
  let read: { at: number; tools: Promise<ServedTools> } | undefined;
  const load = async (): Promise<ServedTools> => {
    const served = new Map<string, string[]>();
    for (const c of await broker.clients.list()) {
      if (c.kind !== 'resource' || c.disabled || !c.actions?.length) continue;
      for (const r of canonicalResources(c.resources))
        served.set(r, [...new Set([...(served.get(r) ?? []), ...c.actions])].sort());
    }
    return served;
  };
  return () => {
    const now = broker.clock.nowMs();
    if (!read || now - read.at >= ttlMs) {
      const tools = load();
      read = { at: now, tools };
      // A failed read is not kept: the next request tries again.
      tools.catch(() => {
        if (read?.tools === tools) read = undefined;
      });
    }
    return read.tools;
  };
}

/**
 * The request as it will be decided: unchanged when it names a scope or authorization_details,
 * else asking for every tool (action) the enabled resource clients register for its resources
 * (what an MCP client that does not know the scopes means: what the resource offers, each pair
 * then decided by policy and shown on the consent page).
 */
export async function withDefaultIntent(
  deps: Pick<AuthorizeDeps, 'servedTools' | 'broker'>,
  params: AuthorizationParams,
): Promise<AuthorizationParams> {
  if (params.scope || params.authorizationDetails !== undefined) return params;
  return {
    ...params,
    authorizationDetails: defaultIntent(
      params.resources,
      await deps.servedTools(),
      `adhoc-${randomBase64url(6)}`,
      deps.broker.settings.intentLimits.maxPairsPerRequest,
    ),
  };
}

/**
 * Starts a checked request: keeps it server-side under a new random id and returns that id (for
 * the browser's cookie) and the upstream sign-in URL.
 */
export async function startAuthorization(
  deps: AuthorizeDeps,
  client: Client,
  target: ClientTarget,
  params: AuthorizationParams,
): Promise<{ pendingId: string; signInUrl: string }> {
  if (!deps.signIn)
    throw new OAuthError(
      'temporarily_unavailable',
      'person sign-in (login.oidc) is not configured',
    );
  const login = {
    state: randomBase64url(24),
    nonce: randomBase64url(24),
    verifier: randomBase64url(48),
  };
  const pending: PendingAuthorization = {
    client_id: client.client_id,
    redirect_uri: target.redirectUri,
    state: params.state,
    code_challenge: params.codeChallenge,
    resources: params.resources,
    scope: params.scope,
    authorization_details: params.authorizationDetails,
    login,
    expires_at: nowSecOf(deps.broker) + PENDING_TTL_SEC,
  };
  const pendingId = randomBase64url(32);
  const signInUrl = await deps.signIn.authorizationUrl(login, deps.callbackUri);
  await deps.store.putPending(pendingId, pending, PENDING_TTL_SEC);
  return { pendingId, signInUrl };
}

/** The pending request of the browser's cookie; a missing or ended one is invalid_request (shown, not redirected). */
export async function pendingOf(
  deps: AuthorizeDeps,
  pendingId: string | undefined,
): Promise<PendingAuthorization> {
  const pending = pendingId ? await deps.store.getPending(pendingId) : undefined;
  if (!pending || pending.expires_at <= nowSecOf(deps.broker))
    throw new OAuthError('invalid_request', 'this sign-in has expired; start again from the app');
  return pending;
}

/**
 * The person is back from the upstream provider: checks the callback (state, code, ID token),
 * has policy decide the request for this person and client, and keeps both with the consent
 * page's CSRF token.
 */
export async function finishSignIn(
  deps: AuthorizeDeps,
  pendingId: string,
  pending: PendingAuthorization,
  callbackUrl: URL,
  ip: string | undefined,
): Promise<void> {
  if (!deps.signIn) throw new OAuthError('temporarily_unavailable', 'login.oidc is not configured');
  if (callbackUrl.searchParams.get('state') !== pending.login.state)
    throw new OAuthError('invalid_request', 'the sign-in answer does not belong to this request');
  const person = await deps.signIn
    .finish(callbackUrl, pending.login, deps.callbackUri)
    .catch((err: unknown) => {
      // The person sees access_denied; why the provider's answer was refused goes to the log only.
      const reason = (err as { reason?: unknown }).reason;
      if (typeof reason === 'string') deps.broker.log.info({ reason }, 'person sign-in refused');
      throw err;
    });
  const client = await authorizingClient(deps.broker, pending.client_id, deps.documents, {
    remember: true,
  });
  const decided = await decideMint(deps.broker, client, {
    authorizationDetails: pending.authorization_details,
    resources: pending.resources,
    scope: pending.scope,
    ip,
    delegated: codeDelegation(client, {
      ...person,
      subject: personSubject(person.issuer, person.sub),
    }),
  });
  const updated: PendingAuthorization = {
    ...pending,
    person,
    csrf: randomBase64url(32),
    consented: decided.decision.granted,
    pairs: decided.pairs.map(pairView),
  };
  if (!(await deps.store.updatePending(pendingId, updated)))
    throw new OAuthError('invalid_request', 'this sign-in has expired; start again from the app');
}

/** A decided pair as the consent page lists it. */
function pairView(p: PairDecision) {
  return { action: p.pair.action, location: p.pair.location, effect: p.effect, reasons: p.reasons };
}

/** The delegation of a grant a person approved for a client: `sub` the person, `act` the client. */
export function codeDelegation(
  client: Client,
  person: { issuer: string; sub: string; groups: string[]; subject: string },
): DelegatedMint {
  return {
    grantType: AUTHORIZATION_CODE_GRANT_TYPE,
    delegation: { subject: person.subject, act: nestAct(client.client_id, undefined) },
    onBehalfOf: { issuer: person.issuer, sub: person.sub, groups: person.groups },
  };
}

/**
 * The person's answer on the consent page (used once, CSRF-checked): approving issues a code
 * bound to the client, redirect, PKCE challenge and resources; denying answers access_denied.
 * Returns where to send the browser.
 */
export async function answerConsent(
  deps: AuthorizeDeps,
  pendingId: string | undefined,
  csrf: string,
  approve: boolean,
): Promise<string> {
  const current = await pendingOf(deps, pendingId);
  if (!current.person || !current.csrf || !sameSecret(csrf, current.csrf))
    throw new OAuthError('invalid_request', 'the consent form expired; start again from the app');
  const pending = await deps.store.takePending(pendingId as string);
  if (!pending?.person)
    throw new OAuthError('invalid_request', 'the consent form was already answered');
  const granted = pending.consented ?? [];
  if (!approve || granted.length === 0) {
    // The refusal is a decision too: who refused (the person, or policy that left nothing), for which client.
    await deps.broker.decisions.record({
      kind: 'denial',
      outcome: 'deny',
      reasons: [granted.length === 0 ? 'nothing_permitted' : 'person_denied'],
      client_id: pending.client_id,
      inputs: {
        request: {
          grant_type: AUTHORIZATION_CODE_GRANT_TYPE,
          resource: pending.resources,
          scope: pending.scope,
        },
        on_behalf_of: { issuer: pending.person.issuer, sub: pending.person.sub },
        pairs: pending.pairs ?? [],
      },
    });
    deps.broker.metrics.decision('mint', 'deny');
    return redirectWith(deps, pending, { error: 'access_denied' });
  }
  const code = randomBase64url(32);
  await deps.store.putCode(
    code,
    {
      client_id: pending.client_id,
      redirect_uri: pending.redirect_uri,
      code_challenge: pending.code_challenge,
      resources: pending.resources,
      granted: granted as AgentTask[],
      person: {
        issuer: pending.person.issuer,
        sub: pending.person.sub,
        groups: pending.person.groups,
        subject: personSubject(pending.person.issuer, pending.person.sub),
      },
      expires_at: nowSecOf(deps.broker) + CODE_TTL_SEC,
    },
    CODE_TTL_SEC,
  );
  return redirectWith(deps, pending, { code });
}

/** The client's redirect_uri with the answer, `state` and `iss` (RFC 9207) added to its query. */
export function redirectWith(
  deps: Pick<AuthorizeDeps, 'broker'>,
  to: { redirect_uri: string; state?: string | undefined },
  answer: Record<string, string>,
): string {
  const url = new URL(to.redirect_uri);
  for (const [k, v] of Object.entries(answer)) url.searchParams.append(k, v);
  if (to.state !== undefined) url.searchParams.append('state', to.state);
  url.searchParams.append('iss', deps.broker.settings.issuer);
  return url.href;
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}
