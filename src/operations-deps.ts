// Composition of what the people who run Mandate rely on: approval notices, audit sinks, state gauges, sink readiness.
import type { Cluster, Redis } from 'ioredis';
import { sinkNames } from './config/operations-schema.ts';
import type { Config } from './config/schema.ts';
import type { KeyRing } from './crypto/key-ring.ts';
import { type ApprovalNotifier, type AuditFeed, silentApprovalNotifier } from './domain/ports.ts';
import type { ReceiverStore } from './domain/receiver.ts';
import type { AppLogger } from './observability/logger.ts';
import type { Metrics } from './observability/metrics.ts';
import { registerStateGauges } from './observability/state-gauges.ts';
import type { Broker } from './services/broker.ts';
import type { KeyNames } from './store/key-names.ts';
import {
  createApprovalNotifier,
  startApprovalNotifyWorker,
} from './worker/approval-notifications.ts';
import { startAuditSinks } from './worker/audit-sinks/audit-sinks.ts';
import { createQueueDepthReader } from './worker/queue-depths.ts';

/** A sink failing this long, or further behind than its queue holds, degrades /readyz. */
const SINK_FAILING_MS = 10_000;

export interface OperationsInput {
  readonly config: Config;
  readonly issuer: string;
  readonly keys: KeyNames;
  readonly log: AppLogger;
  readonly metrics: Metrics;
  /** BullMQ's connection. */
  readonly queueConnection: Redis | Cluster;
  readonly receivers: ReceiverStore;
  readonly keyRing: Pick<KeyRing, 'activeKeyCreatedAt'>;
  /** The decision stream for sink runners (patient client) and for readiness (request client). */
  readonly sinkFeed: AuditFeed;
  readonly readinessFeed: AuditFeed;
  readonly nowSec: () => number;
}

/**
 * Builds the pieces; `broker()` is read lazily (the broker is built with the notifier this
 * returns). The worker side (notice posting, sink runners) starts only in `startWorker`.
 */
export function createOperations(input: OperationsInput, broker: () => Broker) {
  const { config, keys, log, metrics } = input;
  const notifyOpts = {
    connection: input.queueConnection,
    prefix: keys.queuePrefix,
    queueName: keys.approvalNotifyQueue,
    targets: config.approvals.notify,
    issuer: input.issuer,
    log,
    count: (outcome: string) => metrics.approvalNotice(outcome),
  };
  const notices =
    config.approvals.notify.length > 0 ? createApprovalNotifier(notifyOpts) : undefined;
  const approvalNotifier: ApprovalNotifier = notices ?? silentApprovalNotifier;
  let noticeWorker: ReturnType<typeof startApprovalNotifyWorker> | undefined;
  let sinks: Awaited<ReturnType<typeof startAuditSinks>> | undefined;

  const queueDepths = createQueueDepthReader({
    connection: input.queueConnection,
    prefix: keys.queuePrefix,
    fixed: [keys.reevaluationQueue, keys.approvalNotifyQueue],
    receiverIds: async () => (await input.receivers.list()).map((r) => r.id),
    receiverQueue: keys.caepReceiverQueue,
  });
  registerStateGauges(metrics.registry, {
    grantsLive: () => broker().grants.countLive(input.nowSec()),
    approvalsPending: () => broker().approvals.countPending(input.nowSec()),
    queueDepth: async () => (await queueDepths.read()).depth,
    caepFailed: async () => (await queueDepths.read()).caepFailed,
    signingKeyAge: async () => {
      const created = input.keyRing.activeKeyCreatedAt;
      return created === undefined ? undefined : input.nowSec() - created;
    },
  });

  const names = sinkNames(config.audit.sinks);
  return {
    approvalNotifier,
    /**
     * `/readyz` degradations: each audit sink that is further behind than its queue holds, or
     * (in the process writing it) failing for SINK_FAILING_MS. True: fine.
     */
    async degradations(): Promise<Record<string, boolean>> {
      if (names.length === 0) return {};
      const local = sinks?.health() ?? {};
      const behind = await Promise.all(
        names.map((n) => input.readinessFeed.lag(n).catch(() => undefined)),
      );
      const ok = config.audit.sinks.every((sink, i) => {
        const name = names[i] as string;
        const failing = local[name]?.failingSinceMs;
        return (
          (behind[i] ?? 0) <= sink.max_queue &&
          (failing === undefined || Date.now() - failing < SINK_FAILING_MS)
        );
      });
      return { audit_sinks: ok };
    },
    async startWorker() {
      if (config.approvals.notify.length > 0)
        noticeWorker = startApprovalNotifyWorker({
          ...notifyOpts,
          policy: {
            allowHttp: config.approvals.notify_allow_http,
            allowPrivateTargets: config.approvals.notify_allow_private_targets,
          },
          timeoutMs: config.caep.delivery_timeout_ms,
        });
      if (config.audit.sinks.length > 0)
        sinks = await startAuditSinks({
          sinks: config.audit.sinks,
          feed: input.sinkFeed,
          log,
          count: (sink, event) => metrics.auditSink(sink, event),
        });
    },
    async close() {
      await sinks?.close();
      await noticeWorker?.close();
      await notices?.close();
      await queueDepths.close();
    },
  };
}
