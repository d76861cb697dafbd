// What the HTTP layer is given by the composition root.
import type { Context } from 'hono';
import type { KeyRing } from '../crypto/key-ring.ts';
import type { ReceiverStore } from '../domain/receiver.ts';
import type { AppLogger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../services/broker.ts';
import type { RateLimitOptions } from './rate-limit.ts';

export interface HttpDeps {
  readonly broker: Broker;
  readonly keyRing: Pick<KeyRing, 'jwks' | 'rotate' | 'activeKid'>;
  readonly metrics: Metrics;
  readonly log: AppLogger;
  /** Returns who the admin bearer token belongs to, or undefined when it is not valid. */
  readonly adminIdentity: (token: string) => Promise<string | undefined>;
  /** Readiness of Redis, keys and policy. */
  readonly readiness: () => Promise<Record<string, boolean>>;
  readonly bodyLimitBytes: number;
  /** Body limit of the batch evaluation endpoint. */
  readonly batchBodyLimitBytes: number;
  readonly trustProxy: boolean;
  /** The caller's address as the socket reports it (undefined in app.request tests). */
  readonly remoteAddress: (c: Context) => string | undefined;
  /** Rate limits on failed authentications and invalid-token floods (none without it). */
  readonly rateLimit?: RateLimitOptions | undefined;
  /** CAEP receivers for /admin/receivers (the routes are absent without it). */
  readonly receivers?: ReceiverStore | undefined;
}

/** The caller's IP: X-Forwarded-For's first hop only behind a trusted proxy. */
export function clientIp(c: Context, deps: HttpDeps): string | undefined {
  if (deps.trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  const raw = deps.remoteAddress(c);
  return raw?.startsWith('::ffff:') ? raw.slice(7) : raw;
}
