// Agent SDK: task-bound tokens from Mandate that refresh themselves and end with the task.
import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import type { AgentTask } from '../domain/agent-task.ts';
import { type DiscoveredIssuer, discoverIssuer, type FetchLike } from './discover-issuer.ts';
import { createDpopProver, type DpopKeyOption } from './dpop-proof.ts';
import {
  ApprovalRequiredError,
  GrantRevokedError,
  MandateError,
  toMandateError,
} from './mandate-error.ts';
import { type ClientKeyOptions, createAssertionSigner, privateKeyJwt } from './private-key-jwt.ts';

/** What a task asks for: one `agent_task` authorization_details entry without its `type`. */
export type TaskIntent = Omit<AgentTask, 'type'>;

/** One granted `agent_task` entry as the token endpoint returns it. */
export type GrantedTask = AgentTask;

/** A running task: the grant it holds and a token that stays valid. */
export interface MandateTask {
  readonly taskId: string;
  readonly grantId: string;
  /** What the latest token response granted: may narrow after a refresh. */
  readonly authorizationDetails: readonly GrantedTask[];
  /**
   * A currently valid access token, refreshed shortly before it expires. Never a token of a grant
   * the task knows is revoked: it learns so when a refresh is refused, and a token a resource
   * rejected (see `reportRejected`) is replaced by a refresh before it is handed out again.
   * @throws {GrantRevokedError} once the broker refuses to refresh the grant.
   */
  getToken(): Promise<string>;
  /**
   * Tells the task a resource answered 401 (RFC 6750 `invalid_token`) to `token` (default: the
   * current one). The next `getToken()` refreshes at once: it gets a new token when only that
   * token was revoked, and throws `GrantRevokedError` when the grant is. A `token` that is no
   * longer the current one (a refresh came in between) is ignored. Not for 403
   * `insufficient_scope`: the token is fine, the grant does not cover that call.
   */
  reportRejected(token?: string): void;
  /**
   * The headers of one call to a resource: `Authorization: Bearer <token>`, or for a DPoP client
   * `Authorization: DPoP <token>` with a fresh `DPoP` proof for this method and URL (RFC 9449 7).
   */
  headersFor(method: string, url: string | URL): Promise<Record<string, string>>;
}

/** A task started with {@link MandateClient.startTask}: the caller ends it. */
export interface MandateTaskHandle extends MandateTask {
  /** Revokes the grant (RFC 7009, its refresh token). Later `getToken()` calls throw. */
  end(): Promise<void>;
}

export interface MandateClientOptions extends ClientKeyOptions {
  /** The broker's issuer identifier, e.g. `https://mandate.example.com`. */
  readonly issuer: string | URL;
  /**
   * DPoP (RFC 9449): `true` makes an ES256 key pair for this client, or pass your own WebCrypto
   * pair (ES256, EdDSA, PS256, RS256). Token requests then carry proofs (a `use_dpop_nonce`
   * answer is retried once with the nonce) and tokens are bound to the key.
   */
  readonly dpop?: DpopKeyOption;
  readonly fetch?: FetchLike;
  /** Refresh this many seconds before the access token expires (default 30). */
  readonly refreshSkewSec?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

export interface WithTaskOptions {
  /** On `approval_required`, poll until an approver decides instead of throwing. */
  readonly awaitApproval?: boolean;
  readonly signal?: AbortSignal;
}

export interface MandateClient {
  /** Gets a grant for the intent. The caller must `end()` it. */
  startTask(intent: TaskIntent | readonly TaskIntent[]): Promise<MandateTaskHandle>;
  /**
   * Runs `fn` with a grant for the intent, then revokes the grant whether `fn` returned or
   * threw. `fn`'s error is rethrown as is; when `fn` succeeded but the revocation failed, a
   * `MandateError` with code `revocation_failed` is thrown because the grant is still live.
   */
  withTask<T>(
    intent: TaskIntent | readonly TaskIntent[],
    fn: (task: MandateTask) => Promise<T> | T,
    options?: WithTaskOptions,
  ): Promise<T>;
  /** Polls (OpenID CIBA) until the approval is decided; resolves with the started task. */
  awaitApproval(
    approval: ApprovalRequiredError,
    options?: { signal?: AbortSignal },
  ): Promise<MandateTaskHandle>;
  /**
   * A DPoP proof by this client's key for one request (with `ath` for the access token it goes
   * with). Throws a TypeError when the client was created without `dpop`.
   */
  dpopProof(method: string, url: string | URL, accessToken?: string): Promise<string>;
}

const REFUSED_ON_REFRESH = new Set([
  'invalid_grant',
  'access_denied',
  'invalid_client',
  'unauthorized_client',
]);
const DEFAULT_EXPIRES_IN_SEC = 60;

/**
 * Creates an agent-side client of one Mandate issuer. Discovery happens on first use and is
 * retried after a failure.
 */
export function createMandateClient(options: MandateClientOptions): MandateClient {
  const { clientId, clientSecret, privateKey } = options;
  if (
    !clientId ||
    (clientSecret === undefined) === (privateKey === undefined) ||
    clientSecret === ''
  )
    throw new TypeError(
      'createMandateClient: clientId and one of clientSecret or privateKey are required',
    );
  const issuer = new URL(options.issuer);
  const skewMs = (options.refreshSkewSec ?? 30) * 1000;
  if (!(skewMs >= 0)) throw new RangeError('createMandateClient: refreshSkewSec must be >= 0');
  const now = options.now ?? Date.now;
  const client: oauth.Client = { client_id: clientId };
  const auth: oauth.ClientAuth =
    privateKey === undefined
      ? oauth.ClientSecretBasic(clientSecret as string)
      : privateKeyJwt(
          createAssertionSigner({
            clientId,
            privateKey,
            algorithm: options.algorithm,
            keyId: options.keyId,
            now,
          }),
        );
  const prover = options.dpop ? createDpopProver(options.dpop) : undefined;
  let dpopHandle: Promise<oauth.DPoPHandle> | undefined;
  const dpop = () => {
    if (!prover) return undefined;
    dpopHandle ??= prover.keyPair().then((p) => oauth.DPoP(client, p));
    return dpopHandle;
  };

  let discovery: Promise<DiscoveredIssuer> | undefined;
  const discover = (): Promise<DiscoveredIssuer> => {
    discovery ??= discoverIssuer(issuer, options.fetch).catch((err: unknown) => {
      discovery = undefined;
      throw toMandateError(err);
    });
    return discovery;
  };

  /** One token request, with a DPoP proof when the client has a key; a nonce demand is met once. */
  async function callToken(
    request: (d: DiscoveredIssuer, http: DiscoveredIssuer['http']) => Promise<Response>,
    parse: (d: DiscoveredIssuer, r: Response) => Promise<oauth.TokenEndpointResponse>,
  ): Promise<oauth.TokenEndpointResponse> {
    const d = await discover();
    const handle = await dpop();
    const http = handle ? { ...d.http, DPoP: handle } : d.http;
    for (let attempt = 0; ; attempt++) {
      try {
        return await parse(d, await request(d, http));
      } catch (err) {
        // The handle keeps the DPoP-Nonce the broker answered with: the next proof carries it.
        if (handle && attempt === 0 && oauth.isDPoPNonceError(err)) continue;
        throw toMandateError(err);
      }
    }
  }

  function startFrom(first: oauth.TokenEndpointResponse): MandateTaskHandle {
    let state = readTokenResponse(first, now());
    const grantId = requireString(first.grant_id, 'grant_id');
    const taskId = state.details[0]?.task_id ?? '';
    let inflight: Promise<string> | undefined;
    let dead: MandateError | undefined;
    /** The current token was rejected by a resource: it is never handed out again. */
    let rejected = false;

    async function refresh(): Promise<string> {
      try {
        const next = await callToken(
          (d, http) => oauth.refreshTokenGrantRequest(d.as, client, auth, state.refreshToken, http),
          (d, r) => oauth.processRefreshTokenResponse(d.as, client, r),
        );
        state = readTokenResponse(next, now(), state.refreshToken);
        rejected = false;
        return state.accessToken;
      } catch (err) {
        if (err instanceof MandateError && err.error && REFUSED_ON_REFRESH.has(err.error)) {
          dead = new GrantRevokedError(grantId, {
            cause: err,
            error: err.error,
            status: err.status,
          });
          throw dead;
        }
        // A transient failure: the current token still serves until it really expires, unless a
        // resource already refused it.
        if (!rejected && now() < state.expiresAtMs) return state.accessToken;
        throw err;
      }
    }

    const task: MandateTaskHandle = {
      taskId,
      grantId,
      get authorizationDetails() {
        return state.details;
      },
      async getToken() {
        if (dead) throw dead;
        if (!rejected && now() < state.refreshAtMs) return state.accessToken;
        inflight ??= refresh().finally(() => {
          inflight = undefined;
        });
        return inflight;
      },
      reportRejected(token) {
        if (token === undefined || token === state.accessToken) rejected = true;
      },
      async headersFor(method, url): Promise<Record<string, string>> {
        const token = await task.getToken();
        if (!prover || state.tokenType !== 'dpop') return { authorization: `Bearer ${token}` };
        return {
          authorization: `DPoP ${token}`,
          dpop: await prover.proof(method, url, { accessToken: token }),
        };
      },
      async end() {
        if (dead) return;
        // Revoke the newest refresh token, not one a running refresh is about to replace.
        await inflight?.catch(() => undefined);
        if (dead) return;
        dead = new GrantRevokedError(grantId, { error: 'task_ended' });
        try {
          const d = await discover();
          const response = await oauth.revocationRequest(d.as, client, auth, state.refreshToken, {
            ...d.http,
            additionalParameters: { token_type_hint: 'refresh_token' },
          });
          await oauth.processRevocationResponse(response);
        } catch (err) {
          // The grant is still live: let getToken() keep working and end() be retried.
          dead = undefined;
          throw new MandateError('revocation_failed', `could not revoke grant ${grantId}`, {
            cause: err,
          });
        }
      },
    };
    return task;
  }

  function readTokenResponse(
    res: oauth.TokenEndpointResponse,
    atMs: number,
    previousRefreshToken?: string,
  ): TokenState {
    const lifetimeMs =
      (typeof res.expires_in === 'number' ? res.expires_in : DEFAULT_EXPIRES_IN_SEC) * 1000;
    const refreshToken =
      typeof res.refresh_token === 'string' ? res.refresh_token : previousRefreshToken;
    if (!refreshToken) throw new MandateError('unavailable', 'token response has no refresh_token');
    return {
      accessToken: res.access_token,
      tokenType: res.token_type,
      refreshToken,
      details: (res.authorization_details ?? []) as unknown as GrantedTask[],
      expiresAtMs: atMs + lifetimeMs,
      // Short-lived tokens refresh at half-life so a large skew never means "always refresh".
      refreshAtMs: atMs + Math.max(lifetimeMs - skewMs, lifetimeMs / 2),
    };
  }

  async function startTask(intent: TaskIntent | readonly TaskIntent[]): Promise<MandateTaskHandle> {
    const entries = (Array.isArray(intent) ? intent : [intent]).map((e: TaskIntent) => ({
      type: 'agent_task',
      ...e,
    }));
    const parameters = { authorization_details: JSON.stringify(entries) };
    const first = await callToken(
      (d, http) => oauth.clientCredentialsGrantRequest(d.as, client, auth, parameters, http),
      (d, r) => oauth.processClientCredentialsResponse(d.as, client, r),
    );
    return startFrom(first);
  }

  async function awaitApproval(
    approval: ApprovalRequiredError,
    opts: { signal?: AbortSignal } = {},
  ): Promise<MandateTaskHandle> {
    let intervalSec = Math.max(1, approval.intervalSec);
    const deadlineMs = now() + approval.expiresInSec * 1000;
    while (now() < deadlineMs) {
      await sleep(intervalSec * 1000, undefined, opts.signal ? { signal: opts.signal } : undefined);
      try {
        const res = await callToken(
          (d, http) =>
            oauth.backchannelAuthenticationGrantRequest(
              d.as,
              client,
              auth,
              approval.authReqId,
              http,
            ),
          (d, r) => oauth.processBackchannelAuthenticationGrantResponse(d.as, client, r),
        );
        return startFrom(res);
      } catch (err) {
        if (!(err instanceof MandateError)) throw err;
        if (err.error === 'authorization_pending') continue;
        if (err.error === 'slow_down') {
          intervalSec += 5;
          continue;
        }
        throw err;
      }
    }
    throw new MandateError('request_refused', 'the approval request expired', {
      error: 'expired_token',
    });
  }

  async function withTask<T>(
    intent: TaskIntent | readonly TaskIntent[],
    fn: (task: MandateTask) => Promise<T> | T,
    opts: WithTaskOptions = {},
  ): Promise<T> {
    let task: MandateTaskHandle;
    try {
      task = await startTask(intent);
    } catch (err) {
      if (!(opts.awaitApproval && err instanceof ApprovalRequiredError)) throw err;
      task = await awaitApproval(err, opts.signal ? { signal: opts.signal } : {});
    }
    let result: T;
    try {
      result = await fn(task);
    } catch (err) {
      await task.end().catch(() => undefined);
      throw err;
    }
    await task.end();
    return result;
  }

  async function dpopProof(method: string, url: string | URL, accessToken?: string) {
    if (!prover) throw new TypeError('dpopProof: the client was created without a dpop key');
    return prover.proof(method, url, accessToken ? { accessToken } : {});
  }

  return { startTask, withTask, awaitApproval, dpopProof };
}

interface TokenState {
  readonly accessToken: string;
  /** As oauth4webapi hands it: lower-cased (`bearer`, `dpop`). */
  readonly tokenType: string;
  readonly refreshToken: string;
  readonly details: GrantedTask[];
  readonly expiresAtMs: number;
  readonly refreshAtMs: number;
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new MandateError('unavailable', `token response has no ${name}`);
  }
  return value;
}
