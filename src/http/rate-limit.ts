// Throttles failed client authentications (per client id and per address) and floods of invalid tokens (per resource client).
import type { Context, Next } from 'hono';
import type { HttpDeps } from './http-deps.ts';
import { clientIp } from './http-deps.ts';
import { problem } from './problem-response.ts';

/** Counts one event in the current minute, shared by every broker process; undefined when it cannot count. */
export interface RateCounter {
  hit(name: string, key: string, nowMs: number, amount?: number): Promise<{ count: number; windowEndMs: number } | undefined>;
}

export interface RateLimitOptions {
  readonly counter: RateCounter;
  /** Failed authentications per client id and per address in one minute before further attempts get 429. */
  readonly authFailuresPerMinute: number;
  /** Inactive/invalid-token answers per resource client in one minute before its further checks get 429. */
  readonly invalidTokensPerMinute: number;
  /** Most blocked keys remembered per process (oldest dropped first), so random ids cannot grow memory. */
  readonly maxBlocked?: number;
}

type Rule = 'auth' | 'invalid';

/** Longest a failed or invalid-token answer waits for its count to land in Redis. */
const COUNT_WAIT_MS = 50;

/** Endpoints that authenticate a client or an admin. */
function isGuarded(path: string): boolean {
  return (
    path === '/oauth/token' ||
    path === '/oauth/introspect' ||
    path === '/oauth/revoke' ||
    path === '/access/v1/evaluation' ||
    path === '/access/v1/evaluations' ||
    path === '/v1/signals' ||
    path.startsWith('/admin/')
  );
}

const TOKEN_CHECKS = new Set(['/oauth/introspect', '/access/v1/evaluation', '/access/v1/evaluations']);

/**
 * The rate-limit middleware. The common path costs nothing: successful callers are never counted,
 * and a request is only parsed for its client id while some key is blocked. Counting happens in
 * Redis after a failure; a process blocks a key locally once the shared count reaches the limit
 * (so with several processes a key may get one extra attempt per process), until the window ends.
 * The block is checked before any secret comparison or token check.
 */
export function createRateLimit(deps: HttpDeps, opts: RateLimitOptions) {
  if (!(opts.authFailuresPerMinute >= 1) || !(opts.invalidTokensPerMinute >= 1)) throw new Error('rate limits must be at least 1');
  const maxBlocked = opts.maxBlocked ?? 10_000;
  const now = () => deps.broker.clock.nowMs();
  /** `rule:kind:key` -> epoch ms the block ends. */
  const blocked = new Map<string, number>();

  const blockedUntil = (id: string, nowMs: number): number | undefined => {
    const until = blocked.get(id);
    if (until === undefined) return undefined;
    if (until <= nowMs) {
      blocked.delete(id);
      return undefined;
    }
    return until;
  };

  const count = async (rule: Rule, kind: string, key: string, limit: number, amount = 1): Promise<void> => {
    // A slow Redis must not slow the answer: wait a moment for the count (so the next call sees the
    // block), then let it land whenever it does.
    const pending = opts.counter
      .hit(`${rule}:${kind}`, key, now(), amount)
      .then((hit) => record(rule, kind, key, limit, hit))
      .catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((ok) => (timer = setTimeout(ok, COUNT_WAIT_MS)))]);
    clearTimeout(timer);
  };

  const record = (rule: Rule, kind: string, key: string, limit: number, hit: { count: number; windowEndMs: number } | undefined) => {
    if (!hit || hit.count < limit) return;
    const id = `${rule}:${kind}:${key}`;
    blocked.delete(id);
    blocked.set(id, hit.windowEndMs);
    if (blocked.size > maxBlocked) {
      const oldest = blocked.keys().next().value;
      if (oldest !== undefined) blocked.delete(oldest);
    }
  };

  return async function rateLimit(c: Context, next: Next) {
    const path = c.req.path;
    if (c.req.method !== 'POST' && !path.startsWith('/admin/')) return next();
    if (!isGuarded(path)) return next();
    const ip = clientIp(c, deps) ?? 'unknown';

    if (blocked.size > 0) {
      const nowMs = now();
      const clientId = await presentedClientId(c);
      const authUntil = blockedUntil(`auth:ip:${ip}`, nowMs) ?? (clientId !== undefined ? blockedUntil(`auth:client:${clientId}`, nowMs) : undefined);
      if (authUntil !== undefined) return tooMany(path, 'too many failed attempts', authUntil, nowMs);
      if (clientId !== undefined && TOKEN_CHECKS.has(path)) {
        const until = blockedUntil(`invalid:client:${clientId}`, nowMs);
        if (until !== undefined) return tooMany(path, 'too many invalid tokens', until, nowMs);
      }
    }

    await next();

    const status = c.res.status;
    if (status === 401) {
      // Only a presented credential is a guess; a request without any is not counted.
      const clientId = await presentedClientId(c);
      const bearer = /^Bearer \S/i.test(c.req.header('authorization') ?? '');
      if (clientId === undefined && !bearer) return;
      const work = [count('auth', 'ip', ip, opts.authFailuresPerMinute)];
      if (clientId !== undefined) work.push(count('auth', 'client', clientId, opts.authFailuresPerMinute));
      await Promise.all(work);
      return;
    }
    if (status === 200 && TOKEN_CHECKS.has(path)) {
      const invalid = c.get('invalidTokenAnswers') ?? 0;
      if (invalid === 0) return;
      const clientId = await presentedClientId(c);
      if (clientId === undefined) return;
      await count('invalid', 'client', clientId, opts.invalidTokensPerMinute, invalid);
    }
  };
}

declare module 'hono' {
  interface ContextVariableMap {
    /** Answers of this request that said "this token is not valid" (set by the token-checking routes). */
    invalidTokenAnswers: number;
  }
}

/** Called by the token-checking routes: how many of their answers said "this token is not valid". */
export function reportInvalidTokens(c: Context, count: number): void {
  if (count > 0) c.set('invalidTokenAnswers', count);
}

/** AuthZEN answers whose reason is a token that does not verify, or whose grant does not exist: what a guesser produces. */
export function invalidTokenAnswers(answers: readonly { decision: boolean; context?: { reason_admin?: { code?: string } } }[]): number {
  return answers.filter((a) => !a.decision && isInvalidTokenCode(a.context?.reason_admin?.code)).length;
}

function isInvalidTokenCode(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('token_') || code === 'grant_missing');
}

/** The client id a request presents (HTTP Basic, or client_id + client_secret in a form body); never verified here. */
async function presentedClientId(c: Context): Promise<string | undefined> {
  const header = c.req.header('authorization');
  if (header !== undefined) {
    const b64 = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim())?.[1];
    if (!b64) return undefined;
    const decoded = Buffer.from(b64, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) return undefined;
    try {
      return cap(decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')));
    } catch {
      return undefined;
    }
  }
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  try {
    const form = new URLSearchParams(await c.req.text());
    const id = form.get('client_id');
    return id && form.has('client_secret') ? cap(id) : undefined;
  } catch {
    return undefined;
  }
}

/** Client ids are short; a longer one is refused by authentication anyway, so one bucket holds them all. */
function cap(id: string): string {
  return id.length <= 512 ? id : '(too-long)';
}

function tooMany(path: string, why: string, untilMs: number, nowMs: number): Response {
  const retryAfter = String(Math.max(1, Math.ceil((untilMs - nowMs) / 1000)));
  const headers = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Retry-After': retryAfter };
  if (path.startsWith('/oauth/')) {
    return new Response(JSON.stringify({ error: 'temporarily_unavailable', error_description: why }), { status: 429, headers: { ...headers, Pragma: 'no-cache' } });
  }
  if (path.startsWith('/access/')) {
    return new Response(JSON.stringify({ decision: false, context: { reason_admin: { en: why, code: 'rate_limited' } } }), { status: 429, headers });
  }
  const res = problem(429, 'Too many requests', why);
  res.headers.set('Retry-After', retryAfter);
  return res;
}
