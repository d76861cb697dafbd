// Prometheus metrics: request counts and latency per route, tokens minted, decisions, revocations.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
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
  /** One approval notification: queued, delivered, retried, gave_up, skipped. */
  approvalNotice(outcome: string): void;
  /** Audit sink progress: records written, records it fell behind on (dropped from its queue), its lag. */
  auditSink(sink: string, event: { written?: number; dropped?: number; lag?: number }): void;
  /** One re-evaluation sweep finished (its duration); sets the last-success time. */
  sweepDone(seconds: number, atSec: number): void;
  /** Writes whose replication was asked for (redis.min_replicas_ack): confirmed or not confirmed in time. */
  replicaAcks(outcome: 'confirmed' | 'not_confirmed', writes: number): void;
}

/** One registry per broker instance, so several can run in one process (tests). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  // The standard names (process_*, nodejs_*), so stock dashboards and alerts apply.
  collectDefaultMetrics({ register: registry });
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
  const approvalNotices = new Counter({
    name: 'mandate_approval_notifications_total',
    help: 'Approval notifications by outcome: queued, delivered, retried, gave_up, skipped',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const sinkWritten = new Counter({
    name: 'mandate_audit_sink_records_total',
    help: 'Decision records written to each audit sink',
    labelNames: ['sink'],
    registers: [registry],
  });
  const sinkDropped = new Counter({
    name: 'mandate_audit_sink_dropped_total',
    help: 'Decision records an audit sink fell behind on (its queue was full): dropped from the queue, read again from the stream when it catches up',
    labelNames: ['sink'],
    registers: [registry],
  });
  const sinkLag = new Gauge({
    name: 'mandate_audit_sink_lag',
    help: 'Decision records appended to the stream and not yet written to the sink',
    labelNames: ['sink'],
    registers: [registry],
  });
  const sweepDuration = new Gauge({
    name: 'mandate_sweep_duration_seconds',
    help: 'Duration of the last finished re-evaluation sweep',
    registers: [registry],
  });
  const sweepLast = new Gauge({
    name: 'mandate_sweep_last_success_timestamp_seconds',
    help: 'When the last re-evaluation sweep finished (epoch seconds)',
    registers: [registry],
  });
  const replicaAcks = new Counter({
    name: 'mandate_replica_acks_total',
    help: 'Writes that had to reach redis.min_replicas_ack replicas: confirmed, or not_confirmed in time (answered 503)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return {
    registry,
    replicaAcks: (outcome, writes) => replicaAcks.inc({ outcome }, writes),
    approvalNotice: (outcome) => approvalNotices.inc({ outcome }),
    auditSink(sink, { written, dropped, lag }) {
      if (written) sinkWritten.inc({ sink }, written);
      if (dropped) sinkDropped.inc({ sink }, dropped);
      if (lag !== undefined) sinkLag.set({ sink }, lag);
    },
    sweepDone(seconds, atSec) {
      sweepDuration.set(seconds);
      sweepLast.set(atSec);
    },
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
