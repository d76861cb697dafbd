// What the HTTP layer is given by the composition root.
import type { Context } from 'hono';
import type { KeyRing } from '../crypto/key-ring.ts';
import { clientAddress, type HopTrust, TRUST_PEER_ONLY } from '../domain/client-address.ts';
import type { JsonLimits } from '../domain/json-bounds.ts';
import type { Operator } from '../domain/operator.ts';
import type { OperatorSessionStore } from '../domain/operator-session.ts';
import type { ReceiverStore } from '../domain/receiver.ts';
import type { ReceiverTargetPolicy } from '../domain/receiver-target.ts';
import type { AppLogger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuthorizeDeps } from '../services/authorize.ts';
import type { Broker } from '../services/broker.ts';
import type { RateLimitOptions } from './rate-limit.ts';

export interface HttpDeps {
  readonly broker: Broker;
  readonly keyRing: Pick<KeyRing, 'jwks' | 'rotate' | 'activeKid'>;
  readonly metrics: Metrics;
  readonly log: AppLogger;
  /** The operator (id, name, roles) an admin bearer token belongs to, or undefined when it is not valid. */
  readonly adminIdentity: (token: string) => Promise<Operator | undefined>;
  /** True when MANDATE_ADMIN_TOKEN (admin.token) is set: the operator `bootstrap` is listed among the tokens. */
  readonly bootstrapConfigured?: boolean | undefined;
  /** Readiness of Redis, keys and policy. */
  readonly readiness: () => Promise<Record<string, boolean>>;
  /** Checks that only degrade readiness (200 `degraded`): audit sinks behind or failing. */
  readonly degradations?: (() => Promise<Record<string, boolean>>) | undefined;
  readonly bodyLimitBytes: number;
  /** Body limit of the batch evaluation endpoint. */
  readonly batchBodyLimitBytes: number;
  /** Bounds on every JSON value taken from a request (config `server.json_*`); the defaults when absent. */
  readonly jsonLimits?: JsonLimits | undefined;
  /**
   * Bytes of an oversized body (declared by Content-Length) read and discarded before its 413 is
   * answered, so a client that writes its whole body before reading gets the answer instead of a
   * reset (config `server.oversized_body_drain_bytes`); larger bodies are refused at once. 0 when absent.
   */
  readonly oversizedBodyDrainBytes?: number | undefined;
  /** Take the caller's address from X-Forwarded-For (`server.trust_proxy`); see `trustedProxies`. */
  readonly trustProxy: boolean;
  /** Which hops may be believed (`server.trusted_proxies`); without it, with `trustProxy`, the socket peer only (one hop). */
  readonly trustedProxies?: HopTrust | undefined;
  /** The caller's address as the socket reports it (undefined in app.request tests). */
  readonly remoteAddress: (c: Context) => string | undefined;
  /** Rate limits on failed authentications and invalid-token floods (none without it). */
  readonly rateLimit?: RateLimitOptions | undefined;
  /** The operator console at /console: its sessions and their lifetimes (config `console.*`); absent without it. */
  readonly console?: ConsoleSettings | undefined;
  /** The authorization code grant (/oauth/authorize, its sign-in and consent, the code grant); absent: not offered. */
  readonly authorization?: AuthorizeDeps | undefined;
  /** CAEP receivers for /admin/receivers (the routes are absent without it). */
  readonly receivers?: ReceiverStore | undefined;
  /** Where receivers may be registered (config `caep.*`); https and public addresses only when absent. */
  readonly receiverTargets?: ReceiverTargetPolicy | undefined;
}

export interface ConsoleSettings {
  readonly sessions: OperatorSessionStore;
  /** Absolute session lifetime (s). */
  readonly sessionTtlSec: number;
  /** Idle lifetime (s): a session unused this long ends. */
  readonly idleTtlSec: number;
}

/**
 * The caller's IP in canonical form: the socket peer, or with `trustProxy` the rightmost
 * X-Forwarded-For hop that is not a trusted proxy (never the leftmost entry, which the caller
 * writes itself). The `Forwarded` header (RFC 7239) is not read.
 */
export function clientIp(c: Context, deps: HttpDeps): string | undefined {
  const trust = deps.trustProxy ? (deps.trustedProxies ?? TRUST_PEER_ONLY) : undefined;
  const forwardedFor = trust ? c.req.header('x-forwarded-for') : undefined;
  return clientAddress(forwardedFor, deps.remoteAddress(c), trust);
}
