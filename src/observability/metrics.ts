// Prometheus metrics: request counts and latency per route, tokens minted, decisions, revocations.
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { BrokerMetrics } from '../services/broker.ts';

export interface Metrics extends BrokerMetrics {
  readonly registry: Registry;
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** One CAEP event for one receiver: queued, dropped_backlog, delivered, refused, target_refused, gave_up, skipped. */
  caepEvent(receiverId: string, outcome: string): void;
  /** One failed client or admin authentication (counted whatever the source). */
  authFailure?(credential: 'client' | 'admin'): void;
  /** One request refused with 429 by a rate-limit rule, before any secret was compared. */
  rateLimited?(rule: 'client_source' | 'source' | 'invalid_tokens'): void;
}

/** One registry per broker instance, so several can run in one process (tests). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mandate_' });
  const requests = new Counter({
    name: 'mandate_http_requests_total',
    help: 'HTTP requests',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'mandate_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route', 'method'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const minted = new Counter({
    name: 'mandate_tokens_minted_total',
    help: 'Access tokens minted',
    labelNames: ['grant_type'],
    registers: [registry],
  });
  const decisions = new Counter({
    name: 'mandate_decisions_total',
    help: 'Decisions by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  const revocations = new Counter({
    name: 'mandate_revocations_total',
    help: 'Revocations by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
  const evaluationPaths = new Counter({
    name: 'mandate_evaluation_paths_total',
    help: 'Evaluations by path: snapshot (decided before reading, one round trip), read (full path), stale (a snapshot the guard refused)',
    labelNames: ['path'],
    registers: [registry],
  });
  const revokedTokens = new Counter({
    name: 'mandate_revoked_tokens_total',
    help: 'Tokens made inactive by revocations',
    labelNames: ['kind'],
    registers: [registry],
  });
  const caepEvents = new Counter({
    name: 'mandate_caep_events_total',
    help: 'CAEP events per receiver by outcome: queued, dropped_backlog (its backlog was full), delivered, refused (400), target_refused (address not allowed), gave_up, skipped',
    labelNames: ['receiver', 'outcome'],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'mandate_auth_failures_total',
    help: 'Failed client or admin authentications',
    labelNames: ['credential'],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'mandate_rate_limited_total',
    help: 'Requests refused with 429 by rule: client_source, source, invalid_tokens',
    labelNames: ['rule'],
    registers: [registry],
  });
  return {
    registry,
    caepEvent: (receiver, outcome) => caepEvents.inc({ receiver, outcome }),
    authFailure: (credential) => authFailures.inc({ credential }),
    rateLimited: (rule) => rateLimited.inc({ rule }),
    observeRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      latency.observe({ route, method }, seconds);
    },
    tokenMinted: (grantType) => minted.inc({ grant_type: grantType }),
    decision: (kind, outcome) => decisions.inc({ kind, outcome }),
    evaluationPath: (path) => evaluationPaths.inc({ path }),
    revocation(kind, count) {
      revocations.inc({ kind });
      revokedTokens.inc({ kind }, count);
    },
  };
}
