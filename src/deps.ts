// Composition root: the only place that constructs Redis clients, keys, stores and services.
import { ConfigError, type LoadedConfig } from './config/load-config.ts';
import { readPolicyFiles } from './config/read-policy-files.ts';
import { redisTopology } from './config/redis-topology.ts';
import { createAssertionKeys } from './crypto/assertion-keys.ts';
import { createDpopProofs } from './crypto/dpop-proofs.ts';
import { createKeyRing, type KeyRing } from './crypto/key-ring.ts';
import { createOidcRelyingParty } from './crypto/oidc-relying-party.ts';
import { createRemoteJwks } from './crypto/remote-jwks.ts';
import { trustRangeTexts } from './domain/client-address.ts';
import type { ClientMetadataDocuments } from './domain/client-metadata.ts';
import type { Operator } from './domain/operator.ts';
import type { OperatorSessionStore } from './domain/operator-session.ts';
import type { OperatorSignInStore } from './domain/operator-sign-in.ts';
import type { PolicyRegistry } from './domain/policy-registry.ts';
import { PolicySetInvalid } from './domain/policy-registry.ts';
import { type Clock, type GrantNotifier, systemClock } from './domain/ports.ts';
import type { ReceiverStore } from './domain/receiver.ts';
import type { HttpDeps } from './http/http-deps.ts';
import { createHttpsClientMetadataDocuments } from './net/https-client-metadata.ts';
import { withDecisionLines } from './observability/decision-lines.ts';
import { type AppLogger, createLogger } from './observability/logger.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import { createOperations } from './operations-deps.ts';
import { createPolicyRegistry } from './policy/policy-registry.ts';
import { createReplicaAcksFor } from './replica-acks-deps.ts';
import { type AuthorizeDeps, createServedTools } from './services/authorize.ts';
import type { Broker } from './services/broker.ts';
import { GrantSnapshots } from './services/grant-snapshots.ts';
import { bootstrapOperatorToken, type CreatedOperatorToken } from './services/manage-operators.ts';
import { seedReceivers } from './services/manage-receivers.ts';
import { createKeyNames, type KeyNames } from './store/key-names.ts';
import { createRedisAdminTokens } from './store/redis-admin-tokens.ts';
import { createRedisApprovalStore } from './store/redis-approval-store.ts';
import { createRedisAuditFeed } from './store/redis-audit-feed.ts';
import { createRedisAuthorizationStore } from './store/redis-authorization-store.ts';
import { createRedisClientStore } from './store/redis-client-store.ts';
import {
  createRequestClient,
  createWorkerClient,
  type RedisClient,
  readRedisSettings,
} from './store/redis-connection.ts';
import { createRedisDecisionLog } from './store/redis-decision-log.ts';
import { createRedisEvaluationStore } from './store/redis-evaluation-store.ts';
import { createRedisEventBus, type EventBus } from './store/redis-event-bus.ts';
import { createRedisGrantStore } from './store/redis-grant-store.ts';
import { createRedisKeyStore } from './store/redis-key-store.ts';
import { createRedisOneTimeUses } from './store/redis-one-time-uses.ts';
import { createRedisOperatorSessions } from './store/redis-operator-sessions.ts';
import { createRedisOperatorSignIns } from './store/redis-operator-sign-ins.ts';
import { createRedisPolicyStore } from './store/redis-policy-store.ts';
import { createRedisRateLimiter, type RedisRateLimiter } from './store/redis-rate-limiter.ts';
import { createRedisReceiverStore } from './store/redis-receiver-store.ts';
import { loadSharedSecret } from './store/redis-shared-secret.ts';
import { createRedisTrustedIssuers } from './store/redis-trusted-issuers.ts';
import { createRedisUsageStore } from './store/redis-usage-store.ts';
import { createCaepNotifier } from './worker/caep-delivery.ts';
import { startCaepWorker } from './worker/caep-worker.ts';
import { createReevaluationQueue, startReevaluationWorker } from './worker/reevaluation-worker.ts';

export interface Deps {
  readonly loaded: LoadedConfig;
  readonly broker: Broker;
  /** The same services on a patient Redis connection, for the worker's bulk work. */
  readonly workerBroker: Broker;
  readonly keyRing: KeyRing;
  readonly policy: PolicyRegistry;
  readonly bus: EventBus;
  readonly redis: RedisClient;
  readonly keys: KeyNames;
  readonly metrics: Metrics;
  readonly log: AppLogger;
  /** CAEP receivers (RFC 8935 push endpoints). */
  readonly receivers: ReceiverStore;
  /** Fixed-window counters behind the HTTP rate limits. */
  readonly rateLimiter: RedisRateLimiter;
  /** Console sign-in sessions. */
  readonly operatorSessions: OperatorSessionStore;
  /** Pending console sign-ins at the upstream OpenID Provider (config login.oidc). */
  readonly operatorSignIns: OperatorSignInStore;
  /** The authorization code grant: pending requests and codes, the upstream sign-in (config login.oidc). */
  readonly authorization: AuthorizeDeps;
  readonly defaultPolicyText: string;
  /** The operator an admin bearer token belongs to, or undefined. */
  adminIdentity(token: string): Promise<Operator | undefined>;
  /**
   * Generates and stores an admin operator token when no operator credential exists (none
   * configured, none stored); returns it once. Never called by a worker-only process.
   */
  bootstrapAdminToken(): Promise<CreatedOperatorToken | undefined>;
  readiness(): Promise<Record<string, boolean>>;
  /** Checks that degrade /readyz (still 200) when false: audit sinks behind or failing. */
  degradations(): Promise<Record<string, boolean>>;
  /** Connects, checks Redis settings, loads keys and policy. */
  start(): Promise<void>;
  /** Runs the re-evaluation worker in this process. */
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export function createDeps(
  loaded: LoadedConfig,
  opts: { clock?: Clock; log?: AppLogger } = {},
): Deps {
  const { config, issuer } = loaded;
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger();
  const topology = redisTopology(config.redis);
  const conn = { topology, commandTimeoutMs: config.redis.command_timeout_ms };
  const redis = createRequestClient(conn, 'mandate');
  const subscriber = createWorkerClient(conn, 'mandate-sub');
  const queueConnection = createWorkerClient(conn, 'mandate-queue');
  // A Redis outage is expected and answered fail-closed; log it, never crash on it.
  for (const r of [redis, subscriber, queueConnection])
    r.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const keys = createKeyNames(config.redis.prefix, { cluster: topology.kind === 'cluster' });
  const signalLimits = {
    maxPerGrant: config.signals.max_per_grant,
    maxTypesPerGrant: config.signals.max_types_per_grant,
  };
  const auditLimits = {
    maxRecords: config.audit.max_records,
    maxBytes: config.audit.max_bytes,
    maxRecordBytes: config.audit.max_record_bytes,
  };
  const bus = createRedisEventBus(redis, subscriber, keys.events);
  const { text: defaultPolicyText, schema } = readPolicyFiles(loaded);
  const metrics = createMetrics();
  // Revocations and new grants are acknowledged once on the replicas (none asked for: no connections).
  const acks = createReplicaAcksFor(config, topology, redis, keys, log, metrics);
  const clients = createRedisClientStore(redis, keys, bus, acks);
  const policy = createPolicyRegistry(createRedisPolicyStore(redis, keys), bus, schema, {
    cacheEntries: config.policy.decision_cache_entries,
    clients,
    configuredClients: config.clients,
  });
  const keyRing = createKeyRing(
    createRedisKeyStore(redis, keys),
    {
      alg: config.keys.alg,
      issuer,
      clockToleranceSec: config.tokens.clock_tolerance,
      verifiedCacheEntries: config.tokens.verified_cache_entries,
      rotateAfterSec: config.keys.rotate_after,
      // Every process learns of a rotation at once (its JWKS and its signing key), whichever path rotated.
      onRotated: (kid) => {
        log.info({ event: 'key_rotation', kid }, 'signing key rotated');
        return bus.publish({ type: 'keys' });
      },
    },
    clock,
  );
  const dpopWindowSec = config.dpop.proof_max_age_sec + config.tokens.clock_tolerance;
  const dpop = createDpopProofs(
    { windowSec: dpopWindowSec, nonceSlotSec: config.dpop.nonce_slot_sec },
    clock,
  );
  const queueOpts = {
    connection: queueConnection,
    prefix: keys.queuePrefix,
    name: keys.reevaluationQueue,
  };
  const reevaluator = createReevaluationQueue(queueOpts);
  let worker: Awaited<ReturnType<typeof startReevaluationWorker>> | undefined;
  // CAEP push to registered receivers: the API queues, the worker signs and delivers.
  const receivers = createRedisReceiverStore(redis, keys);
  const caepOpts = {
    connection: queueConnection,
    prefix: keys.queuePrefix,
    queueName: keys.caepReceiverQueue,
    metrics,
  };
  const caepNotifier = createCaepNotifier({
    ...caepOpts,
    receivers,
    log,
    clock,
    maxBacklog: config.caep.max_backlog_per_receiver,
  });
  const notifier: GrantNotifier = caepNotifier;
  let caepWorker: Awaited<ReturnType<typeof startCaepWorker>> | undefined;
  const auditRedis = createWorkerClient(conn, 'mandate-audit');
  auditRedis.on('error', (err: Error) =>
    log.warn({ err: err.message }, 'redis connection error (audit sinks)'),
  );
  const operations = createOperations(
    {
      config,
      issuer,
      keys,
      log,
      metrics,
      queueConnection,
      receivers,
      keyRing,
      sinkFeed: createRedisAuditFeed(auditRedis, keys),
      readinessFeed: createRedisAuditFeed(redis, keys),
      nowSec: () => Math.floor(clock.nowMs() / 1000),
    },
    () => broker,
  );
  const decisions = withDecisionLines(log, createRedisDecisionLog(redis, keys, auditLimits));
  const { federation } = config;
  // One cache of remote key sets for client and trusted-issuer jwks_uris alike.
  const assertionKeys = createAssertionKeys(
    createRemoteJwks({
      timeoutMs: federation.jwks_timeout_ms,
      maxBytes: federation.jwks_max_bytes,
      cacheMaxAgeMs: federation.jwks_cache_max_age_sec * 1000,
      cooldownMs: federation.jwks_cooldown_sec * 1000,
      allowHttpLoopback: federation.allow_http_loopback,
    }),
  );
  const operators = createRedisAdminTokens(redis, keys, config.admin.token);
  const { mcp } = config;
  const clientMetadata: ClientMetadataDocuments = createHttpsClientMetadataDocuments({
    allowPrivate: mcp.cimd_allow_private,
    allowedHosts: mcp.cimd_allowed_hosts,
    cache: { minSec: mcp.cimd_cache_min_sec, maxSec: mcp.cimd_cache_max_sec },
    maxEntries: mcp.cimd_cache_entries,
  });
  const broker: Broker = {
    operators,
    approvalNotifier: operations.approvalNotifier,
    reevaluator,
    notifier,
    clock,
    clients,
    grants: createRedisGrantStore(redis, keys, { signals: signalLimits, acks }),
    usage: createRedisUsageStore(redis, keys),
    approvals: createRedisApprovalStore(redis, keys),
    decisions,
    evaluations: createRedisEvaluationStore(redis, keys, decisions),
    oneTimeUses: createRedisOneTimeUses(redis, keys, () => Math.floor(clock.nowMs() / 1000)),
    signer: keyRing,
    verifier: keyRing,
    dpop,
    callerTokens: keyRing,
    assertionKeys,
    clientMetadata,
    trustedIssuers: createRedisTrustedIssuers(redis, keys),
    snapshots: new GrantSnapshots(config.usage.snapshot_entries),
    policy,
    settings: {
      issuer,
      accessTtlSec: config.tokens.access_ttl,
      grantTtlSec: config.tokens.grant_ttl,
      maxGrantTtlSec: config.tokens.max_grant_ttl,
      clockToleranceSec: config.tokens.clock_tolerance,
      reevaluateAtCallsPerMinute: config.usage.reevaluate_at_calls_per_minute,
      reevaluateAtDeniedPerHour: config.usage.reevaluate_at_denied_per_hour,
      approvalTtlSec: config.approvals.ttl,
      approvalIntervalSec: config.approvals.interval,
      intentLimits: {
        maxPairsPerRequest: config.limits.max_pairs_per_request,
        maxPairsPerGrant: config.limits.max_pairs_per_grant,
      },
      signalMaxContextBytes: config.signals.max_context_bytes,
      maxLiveGrantsPerAgent: config.limits.max_live_grants_per_agent,
      maxPendingApprovalsPerAgent: config.limits.max_pending_approvals_per_agent,
      dpop: {
        requireNonce: config.dpop.require_nonce,
        windowSec: dpopWindowSec,
        trustResourceVerification: config.dpop.trust_resource_verification,
      },
      jwksAllowHttpLoopback: federation.allow_http_loopback,
      maxDelegationDepth: config.delegation.max_depth,
    },
    log,
    metrics,
  };
  // The worker's stores wait for Redis (a sweep issues thousands of commands at once); only the
  // request path fails fast. Same services, patient connection.
  const workerRedis = createWorkerClient(conn, 'mandate-worker');
  workerRedis.on('error', (err: Error) =>
    log.warn({ err: err.message }, 'redis connection error (worker)'),
  );
  const workerDecisions = withDecisionLines(
    log,
    createRedisDecisionLog(workerRedis, keys, auditLimits),
  );
  const workerBroker: Broker = {
    ...broker,
    clients: createRedisClientStore(workerRedis, keys, bus, acks),
    grants: createRedisGrantStore(workerRedis, keys, { signals: signalLimits, acks }),
    usage: createRedisUsageStore(workerRedis, keys),
    approvals: createRedisApprovalStore(workerRedis, keys),
    decisions: workerDecisions,
    evaluations: createRedisEvaluationStore(workerRedis, keys, workerDecisions),
    oneTimeUses: createRedisOneTimeUses(workerRedis, keys, () => Math.floor(clock.nowMs() / 1000)),
    snapshots: new GrantSnapshots(config.usage.snapshot_entries),
  };
  const timers: NodeJS.Timeout[] = [];

  bus.subscribe((e) => {
    if (e.type === 'keys')
      void keyRing
        .load()
        .catch((err: unknown) => log.warn({ err: String(err) }, 'key reload failed'));
  });

  return {
    loaded,
    broker,
    workerBroker,
    keyRing,
    policy,
    bus,
    redis,
    keys,
    metrics,
    log,
    receivers,
    rateLimiter: createRedisRateLimiter(redis, keys),
    operatorSessions: createRedisOperatorSessions(redis, keys),
    operatorSignIns: createRedisOperatorSignIns(redis, keys),
    authorization: {
      broker,
      store: createRedisAuthorizationStore(redis, keys),
      signIn: config.login.oidc
        ? createOidcRelyingParty({
            issuer: config.login.oidc.issuer,
            clientId: config.login.oidc.client_id,
            clientSecret: config.login.oidc.client_secret,
            scopes: config.login.oidc.scopes,
            groupsClaim: config.login.oidc.groups_claim,
            timeoutMs: config.login.oidc.timeout_ms,
          })
        : undefined,
      // Client ID Metadata Documents: an https client_id is resolved by the guarded fetcher.
      documents: clientMetadata,
      callbackUri: `${issuer}/oauth/callback`,
      startsPerSourcePerMinute: config.login.starts_per_source_per_minute,
      servedTools: createServedTools(broker),
    },
    defaultPolicyText,
    adminIdentity: (token) => operators.identify(token, Math.floor(clock.nowMs() / 1000)),
    bootstrapAdminToken: () => bootstrapOperatorToken(broker, config.admin.token !== undefined),
    async readiness() {
      const ping = await redis.ping().then(
        (r) => r === 'PONG',
        () => false,
      );
      return { redis: ping, keys: keyRing.activeKid !== undefined, policy: policy.loaded };
    },
    degradations: () => operations.degradations(),
    async start() {
      // Subscribing (done while wiring) may already have opened the subscriber connection.
      for (const r of [redis, subscriber]) if (r.status === 'wait') await r.connect();
      const settings = await readRedisSettings(redis);
      // The scripts use EXPIRE NX and EXPIRETIME: on an older server every mint would fail.
      const major = Number(settings.version.split('.')[0]);
      if (!(major >= 7))
        throw new ConfigError(
          `refusing to start: Redis ${settings.version} is older than 7.0, which Mandate requires`,
        );
      if (settings.maxmemoryPolicy !== 'noeviction') {
        const msg = `Redis maxmemory-policy is ${settings.maxmemoryPolicy}: grants and revocations could be evicted. Set maxmemory-policy noeviction.`;
        if (config.redis.require_noeviction)
          throw new ConfigError(
            `refusing to start: ${msg} (or set redis.require_noeviction: false)`,
          );
        log.error({ maxmemoryPolicy: settings.maxmemoryPolicy }, msg);
      }
      if (!settings.appendonly) {
        log.warn(
          { appendonly: false },
          'WARNING: Redis runs without AOF persistence: a Redis restart loses every grant and revocation. Set appendonly yes (appendfsync everysec or always).',
        );
      }
      await acks.start();
      await keyRing.load();
      await keyRing.maintain();
      dpop.useNonceSecret(await loadSharedSecret(redis, keys, 'dpop_nonce'));
      await policy.load(defaultPolicyText, Math.floor(clock.nowMs() / 1000)).catch((err) => {
        // A policy set that does not compile is the configuration's fault: say so, not "Redis".
        throw err instanceof PolicySetInvalid
          ? new ConfigError(`refusing to start: ${err.message}`)
          : err;
      });
      await seedReceivers(receivers, config.receivers);
      const moved = await operators.migrateLegacy(Math.floor(clock.nowMs() / 1000));
      if (moved > 0)
        log.warn(
          { tokens: moved },
          'admin tokens generated by an earlier version are now operator tokens with role admin: list them with `mandate tokens ls` and revoke the ones no longer used',
        );
      // Fallbacks for missed pub/sub messages and time-based key rotation.
      timers.push(setInterval(() => void policy.refresh().catch(() => undefined), 5000).unref());
      timers.push(
        setInterval(() => void keyRing.maintain().catch(() => undefined), 60_000).unref(),
      );
    },
    async startWorker() {
      if (workerRedis.status === 'wait') await workerRedis.connect();
      worker = await startReevaluationWorker(workerBroker, {
        ...queueOpts,
        sweepEveryMs: config.worker.sweep_every_ms,
        onSweepDone: (seconds, atSec) => metrics.sweepDone(seconds, atSec),
        batchSize: config.worker.batch_size,
        concurrency: config.worker.concurrency,
      });
      await operations.startWorker();
      caepWorker = await startCaepWorker({
        ...caepOpts,
        receivers,
        signer: keyRing,
        issuer,
        log,
        concurrencyPerReceiver: config.caep.concurrency_per_receiver,
        timeoutMs: config.caep.delivery_timeout_ms,
        targets: {
          allowHttp: config.caep.allow_http,
          allowPrivateTargets: config.caep.allow_private_targets,
        },
      });
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await operations.close();
      await worker?.close();
      await caepWorker?.close();
      acks.close();
      await caepNotifier.close();
      await reevaluator.close();
      await bus.close();
      queueConnection.disconnect();
      auditRedis.disconnect();
      workerRedis.disconnect();
      redis.disconnect();
    },
  };
}

/**
 * What the HTTP app is given: the deps' services and the config's HTTP limits. `remoteAddress`
 * reads the caller's address from the connection (the server's own; none under app.request).
 */
export function httpDepsOf(deps: Deps, remoteAddress: HttpDeps['remoteAddress']): HttpDeps {
  const { config } = deps.loaded;
  return {
    broker: deps.broker,
    keyRing: deps.keyRing,
    metrics: deps.metrics,
    log: deps.log,
    adminIdentity: (t) => deps.adminIdentity(t),
    bootstrapConfigured: config.admin.token !== undefined,
    readiness: () => deps.readiness(),
    degradations: () => deps.degradations(),
    receivers: deps.receivers,
    authorization: deps.authorization,
    console: {
      sessions: deps.operatorSessions,
      sessionTtlSec: config.console.session_ttl,
      idleTtlSec: config.console.idle_ttl,
      // The relying party of /oauth/authorize, reused: one discovery, one key cache.
      oidc:
        config.login.oidc && deps.authorization.signIn
          ? {
              broker: deps.broker,
              signIn: deps.authorization.signIn,
              store: deps.operatorSignIns,
              callbackUri: `${deps.loaded.issuer}/console/callback`,
              roleGroups: config.operators.role_groups,
              providerName:
                config.login.oidc.display_name ?? new URL(config.login.oidc.issuer).host,
            }
          : undefined,
    },
    receiverTargets: {
      allowHttp: config.caep.allow_http,
      allowPrivateTargets: config.caep.allow_private_targets,
    },
    rateLimit: {
      counter: deps.rateLimiter,
      authFailuresPerMinute: config.rate_limit.auth_failures_per_minute,
      authFailuresPerSourcePerMinute: config.rate_limit.auth_failures_per_source_per_minute,
      knownCredentialTtlMs: config.rate_limit.known_credential_ttl_sec * 1000,
      invalidTokensPerMinute: config.rate_limit.invalid_tokens_per_minute,
    },
    bodyLimitBytes: config.server.body_limit_bytes,
    batchBodyLimitBytes: config.server.batch_body_limit_bytes,
    jsonLimits: {
      maxDepth: config.server.json_max_depth,
      maxNodes: config.server.json_max_nodes,
      maxMembers: config.server.json_max_members,
      maxStringLength: config.server.json_max_string_length,
    },
    oversizedBodyDrainBytes: config.server.oversized_body_drain_bytes,
    trustProxy: config.server.trust_proxy,
    trustedProxies: trustRangeTexts(config.server.trusted_proxies),
    remoteAddress,
  };
}
