// Throttles failed authentications (per client id and source, per source) and floods of invalid tokens (per resource client), without refusing correct credentials for others' failures.
// Over 350 lines on purpose: one middleware, its three counters and the credential digest they share; splitting would scatter one throttling policy.
import { hash } from 'node:crypto';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { sourceKey } from '../domain/client-address.ts';
import { decodeCompactJwt } from '../domain/client-assertion.ts';
import { readBasicCredentials } from './basic-credentials.ts';
import type { HttpDeps } from './http-deps.ts';
import { clientIp } from './http-deps.ts';

/** Counts one event in the current minute, shared by every broker process; undefined when it cannot count. */
export interface RateCounter {
  hit(
    name: string,
    key: string,
    nowMs: number,
    amount?: number,
  ): Promise<{ count: number; windowEndMs: number } | undefined>;
}

export interface RateLimitOptions {
  readonly counter: RateCounter;
  /** Failed authentications per (client id, source) in one minute before that pair's further attempts get 429. */
  readonly authFailuresPerMinute: number;
  /**
   * Failed authentications per source (any credential) in one minute before that source's further
   * attempts get 429, except credentials this process has recently seen succeed.
   */
  readonly authFailuresPerSourcePerMinute: number;
  /** How long a credential seen to succeed passes a blocked source (0: never). */
  readonly knownCredentialTtlMs: number;
  /** Inactive/invalid-token answers per resource client in one minute before its further checks get 429. */
  readonly invalidTokensPerMinute: number;
  /** Most blocked keys remembered per process (oldest dropped first), so random ids cannot grow memory. */
  readonly maxBlocked?: number;
  /** Most known-good credential digests remembered per process (least recently used dropped first). */
  readonly maxKnownCredentials?: number;
}

/** A credential as a request presents it, before anything is verified. */
export type PresentedCredential =
  | { readonly kind: 'client'; readonly clientId: string; readonly secret: string }
  | { readonly kind: 'admin'; readonly token: string };

type Rule = 'client_source' | 'source' | 'invalid_tokens';

/** Longest a failed or invalid-token answer waits for its count to land in Redis. */
const COUNT_WAIT_MS = 50;

/** How a sub-app answers 429 in its own wire format (`retryAfterSec` is for its Retry-After header). */
export type TooManyRenderer = (why: string, retryAfterSec: number) => Response;

/** Where a sub-app puts the rate limit: before it authenticates anyone. */
export interface RateLimitGuardOptions {
  /** The 429 in the sub-app's wire format. */
  readonly tooMany: TooManyRenderer;
  /** The route answers about tokens (introspection, evaluation): floods of invalid ones are throttled too. */
  readonly checksTokens?: boolean;
}

/** The rate limit shared by every sub-app (one set of counters and blocks); each places its own guards. */
export interface RateLimiter {
  guard(opts: RateLimitGuardOptions): MiddlewareHandler;
}

/** No rate limit (config without `rateLimit`): every guard lets everything through. */
export const NO_RATE_LIMIT: RateLimiter = {
  guard: () =>
    async function noRateLimit(_c, next) {
      await next();
    },
};

/**
 * The rate-limit middleware (OWASP Authentication Cheat Sheet: nobody's correct credentials are
 * refused because someone else failed). A failure is counted in Redis per (client id, source) and
 * per source, and per client id across sources for logs and metrics only; a process blocks a key
 * locally once the shared count reaches its limit (so with several processes a key may get one
 * extra attempt per process), until the window ends. While a block holds, it refuses before any
 * secret is compared or the store is read:
 * - a blocked (client id, source) pair refuses that client id from that source, whatever the secret;
 *   the same client id from any other source is not affected;
 * - a blocked source refuses every credential from it except one this process has seen succeed in
 *   the last `knownCredentialTtlMs` (held as a SHA-256 digest, never in clear), so a resource server
 *   or admin already working behind a shared address keeps working while a guesser there is refused.
 * Successful callers are never counted; the common path costs one digest of the verified credential.
 */
export function createRateLimit(deps: HttpDeps, opts: RateLimitOptions): RateLimiter {
  for (const n of [
    opts.authFailuresPerMinute,
    opts.authFailuresPerSourcePerMinute,
    opts.invalidTokensPerMinute,
  ]) {
    if (!(n >= 1)) throw new Error('rate limits must be at least 1');
  }
  if (!(opts.knownCredentialTtlMs >= 0))
    throw new Error('knownCredentialTtlMs must not be negative');
  const maxBlocked = opts.maxBlocked ?? 10_000;
  const maxKnown = opts.maxKnownCredentials ?? 10_000;
  const now = () => deps.broker.clock.nowMs();
  /** `rule:key` -> epoch ms the block ends. */
  const blocked = new Map<string, number>();
  /** Digest of a credential seen to succeed -> epoch ms it stops passing a blocked source; oldest use first. */
  const known = new Map<string, number>();

  const blockedUntil = (id: string, nowMs: number): number | undefined => {
    const until = blocked.get(id);
    if (until === undefined) return undefined;
    if (until <= nowMs) {
      blocked.delete(id);
      return undefined;
    }
    return until;
  };

  const isKnown = (digest: string, nowMs: number): boolean => {
    const until = known.get(digest);
    if (until === undefined) return false;
    if (until <= nowMs) {
      known.delete(digest);
      return false;
    }
    return true;
  };

  const remember = (digest: string, nowMs: number): void => {
    if (opts.knownCredentialTtlMs === 0) return;
    const until = known.get(digest);
    // Fresh enough: skip the re-insert, so the hot path is one Map lookup.
    if (until !== undefined && until - nowMs > opts.knownCredentialTtlMs / 2) return;
    known.delete(digest);
    known.set(digest, nowMs + opts.knownCredentialTtlMs);
    if (known.size > maxKnown) {
      const oldest = known.keys().next().value;
      if (oldest !== undefined) known.delete(oldest);
    }
  };

  /** Counts in Redis; `limit` blocks the key locally once reached (undefined: count only), `onHit` sees the count. */
  const count = async (
    rule: Rule | 'client',
    key: string,
    limit: number | undefined,
    amount = 1,
    onHit?: (n: number) => void,
  ): Promise<void> => {
    // A slow Redis must not slow the answer: wait a moment for the count (so the next call sees the
    // block), then let it land whenever it does.
    const pending = opts.counter
      .hit(`auth:${rule}`, key, now(), amount)
      .then((hit) => {
        if (!hit) return;
        onHit?.(hit.count);
        if (limit !== undefined && rule !== 'client' && hit.count >= limit)
          block(`${rule}:${key}`, hit.windowEndMs);
      })
      .catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pending,
      new Promise<void>((ok) => (timer = setTimeout(ok, COUNT_WAIT_MS))),
    ]);
    clearTimeout(timer);
  };

  const block = (id: string, untilMs: number) => {
    blocked.delete(id);
    blocked.set(id, untilMs);
    if (blocked.size > maxBlocked) {
      const oldest = blocked.keys().next().value;
      if (oldest !== undefined) blocked.delete(oldest);
    }
  };

  const guard = ({ tooMany, checksTokens = false }: RateLimitGuardOptions): MiddlewareHandler =>
    async function rateLimit(c: Context, next: Next) {
      const refuse = (rule: Rule, why: string, untilMs: number, nowMs: number): Response => {
        deps.metrics.rateLimited?.(rule);
        return tooMany(why, Math.max(1, Math.ceil((untilMs - nowMs) / 1000)));
      };
      // Both read lazily: a request while nothing is blocked that does not fail parses neither.
      let sourceMemo: string | undefined;
      const sourceOf = () => {
        sourceMemo ??= sourceKey(clientIp(c, deps) ?? 'unknown');
        return sourceMemo;
      };
      let presented: Promise<PresentedCredential | undefined> | undefined;
      const credential = () => {
        presented ??= presentedCredential(c);
        return presented;
      };

      if (blocked.size > 0) {
        const nowMs = now();
        const cred = await credential();
        const source = sourceOf();
        const clientId = cred?.kind === 'client' ? cred.clientId : undefined;
        if (clientId !== undefined) {
          const until = blockedUntil(`client_source:${pairKey(clientId, source)}`, nowMs);
          if (until !== undefined)
            return refuse('client_source', 'too many failed attempts', until, nowMs);
        }
        const sourceUntil = blockedUntil(`source:${source}`, nowMs);
        if (sourceUntil !== undefined && !(cred && isKnown(credentialDigest(cred), nowMs))) {
          return refuse('source', 'too many failed attempts', sourceUntil, nowMs);
        }
        if (clientId !== undefined && checksTokens) {
          const until = blockedUntil(`invalid_tokens:${clientId}`, nowMs);
          if (until !== undefined)
            return refuse('invalid_tokens', 'too many invalid tokens', until, nowMs);
        }
      }

      await next();

      const verified = c.get('authenticatedCredential');
      if (verified !== undefined) remember(verified, now());

      const status = c.res.status;
      // A refused assertion grant answers 400 invalid_grant, yet is a failed credential all the same.
      if (status === 401 || c.get('credentialRefused') === true) {
        // Only a presented credential is a guess; a request without any is not counted.
        const cred = await credential();
        if (!cred) return;
        const source = sourceOf();
        deps.metrics.authFailure?.(cred.kind);
        const work = [count('source', source, opts.authFailuresPerSourcePerMinute)];
        if (cred.kind === 'client') {
          const { clientId } = cred;
          work.push(count('client_source', pairKey(clientId, source), opts.authFailuresPerMinute));
          // Across every source: never a block (that would let anyone lock the client out), only a warning.
          work.push(
            count('client', clientId, undefined, 1, (n) => {
              if (n === opts.authFailuresPerMinute)
                deps.log.warn(
                  { client_id: clientId, failures: n },
                  'many failed authentications for one client id this minute (all sources)',
                );
            }),
          );
        }
        await Promise.all(work);
        return;
      }
      if (status === 200 && checksTokens) {
        const invalid = c.get('invalidTokenAnswers') ?? 0;
        if (invalid === 0) return;
        const cred = await credential();
        if (cred?.kind !== 'client') return;
        await count('invalid_tokens', cred.clientId, opts.invalidTokensPerMinute, invalid);
      }
    };
  return { guard };
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Answers of this request that said "this token is not valid" (set by the token-checking routes). */
    invalidTokenAnswers: number;
    /** Digest of the credential this request was authenticated with (set by client and admin authentication). */
    authenticatedCredential: string;
    /** The request's credential (an assertion) was refused, whatever the status says. */
    credentialRefused: boolean;
  }
}

/** Called by the token-checking routes: how many of their answers said "this token is not valid". */
export function reportInvalidTokens(c: Context, count: number): void {
  if (count > 0) c.set('invalidTokenAnswers', count);
}

/**
 * Called by client and admin authentication once a credential has been verified: the rate limit
 * remembers its digest, so it passes a source that others' failures have blocked.
 */
export function noteAuthenticated(c: Context, credential: PresentedCredential): void {
  c.set('authenticatedCredential', credentialDigest(credential));
}

/** Called when an assertion is refused: the rate limit counts it as a failed authentication even when the answer is not 401. */
export function noteCredentialRefused(c: Context): void {
  c.set('credentialRefused', true);
}

/** SHA-256 of the exact credential, separated by kind: what the rate limit keeps instead of the secret. */
export function credentialDigest(credential: PresentedCredential): string {
  const text =
    credential.kind === 'client'
      ? `client\u0000${credential.clientId}\u0000${credential.secret}`
      : `admin\u0000${credential.token}`;
  return hash('sha256', text, 'base64url');
}

/** AuthZEN answers whose reason is a token that does not verify, or whose grant does not exist: what a guesser produces. */
export function invalidTokenAnswers(
  answers: readonly { decision: boolean; context?: { reason_admin?: { code?: string } } }[],
): number {
  return answers.filter((a) => !a.decision && isInvalidTokenCode(a.context?.reason_admin?.code))
    .length;
}

function isInvalidTokenCode(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('token_') || code === 'grant_missing');
}

/** Source first: a source key never holds a space, so no client id can forge another pair's key. */
function pairKey(clientId: string, source: string): string {
  return `${source} ${clientId}`;
}

/**
 * The credential a request presents (HTTP Basic, a Bearer token, client_id + client_secret in a
 * form body, a JWT assertion in one, or the console sign-in form's operator token), decoded as
 * authentication decodes it; never verified here.
 */
async function presentedCredential(c: Context): Promise<PresentedCredential | undefined> {
  const header = c.req.header('authorization');
  if (header !== undefined) {
    const bearer = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header)?.[1];
    if (bearer) return { kind: 'admin', token: bearer };
    const basic = readBasicCredentials(header);
    if (typeof basic === 'string') return undefined;
    return { kind: 'client', clientId: cap(basic.clientId), secret: basic.secret };
  }
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  try {
    const form = new URLSearchParams(await c.req.text());
    // The console's sign-in form posts an operator token: counted like an admin bearer token.
    const operatorToken = form.get('operator_token');
    if (operatorToken) return { kind: 'admin', token: operatorToken };
    const id = form.get('client_id');
    const secret = form.get('client_secret');
    if (id && secret !== null) return { kind: 'client', clientId: cap(id), secret };
    // A JWT assertion (client_assertion, or a jwt-bearer grant's assertion) is the credential
    // itself; its unverified `sub` (private_key_jwt: the client id) names whose it claims to be.
    const assertion = form.get('client_assertion') ?? form.get('assertion');
    if (!assertion) return undefined;
    const sub = decodeCompactJwt(assertion)?.payload.sub;
    const claimed = id ?? (typeof sub === 'string' ? sub : '(assertion)');
    return { kind: 'client', clientId: cap(claimed), secret: assertion };
  } catch {
    return undefined;
  }
}

/** Client ids are short; a longer one is refused by authentication anyway, so one bucket holds them all. */
function cap(id: string): string {
  return id.length <= 512 ? id : '(too-long)';
}
