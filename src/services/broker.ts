// What every use-case needs: the ports, the settings and the loggers, built once in deps.ts.

import type { ClientMetadataDocuments } from '../domain/client-metadata.ts';
import type { IntentLimits } from '../domain/intent.ts';
import type { OperatorTokenStore } from '../domain/operator.ts';
import type { PolicyRegistry } from '../domain/policy-registry.ts';
import type {
  ApprovalNotifier,
  ApprovalStore,
  AssertionKeys,
  CallerTokens,
  ClientStore,
  Clock,
  DecisionLog,
  DpopVerifier,
  EvaluationStore,
  GrantNotifier,
  GrantStore,
  OneTimeUses,
  Reevaluator,
  TokenSigner,
  TokenVerifier,
  UsageStore,
} from '../domain/ports.ts';
import type { TrustedIssuerStore } from '../domain/trusted-issuer.ts';
import type { GrantSnapshots } from './grant-snapshots.ts';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Counters the services move; the http layer exposes them as Prometheus metrics. */
export interface BrokerMetrics {
  tokenMinted(grantType: string): void;
  decision(kind: string, outcome: string): void;
  revocation(kind: string, count: number): void;
  /** How an evaluation was decided: from a grant snapshot, after reading, or a snapshot found stale. */
  evaluationPath(path: 'snapshot' | 'read' | 'stale'): void;
}

export interface BrokerSettings {
  readonly issuer: string;
  readonly accessTtlSec: number;
  readonly grantTtlSec: number;
  readonly maxGrantTtlSec: number;
  readonly clockToleranceSec: number;
  /** Evaluations of one grant in a minute that trigger its re-evaluation at once. */
  readonly reevaluateAtCallsPerMinute: number;
  /** Denied evaluations of one grant in an hour that trigger its re-evaluation at once. */
  readonly reevaluateAtDeniedPerHour: number;
  /** How long an approval request waits for an approver (s). */
  readonly approvalTtlSec: number;
  /** CIBA poll interval (s). */
  readonly approvalIntervalSec: number;
  /** Pairs a request may ask for and a grant may hold (config `limits`). */
  readonly intentLimits: IntentLimits;
  /** Largest `context` of one signal, in bytes of JSON (config `signals.max_context_bytes`). */
  readonly signalMaxContextBytes: number;
  /** Grants one agent may hold at once, neither revoked nor ended (config `limits.max_live_grants_per_agent`). */
  readonly maxLiveGrantsPerAgent: number;
  /** Mint and elevation approvals one agent may have pending (config `limits.max_pending_approvals_per_agent`). */
  readonly maxPendingApprovalsPerAgent: number;
  /** A jwks_uri may be plain http on a loopback host (config `federation.allow_http_loopback`). */
  readonly jwksAllowHttpLoopback: boolean;
  /** RFC 9449 (config `dpop`). */
  readonly dpop: DpopSettings;
  /** Most `act` levels of an exchanged token (config `delegation.max_depth`). */
  readonly maxDelegationDepth: number;
}

export interface DpopSettings {
  /** Token-request proofs must carry a current server nonce. */
  readonly requireNonce: boolean;
  /** How far a proof's iat may lie from now, either side, clock tolerance included (s): its jti is claimed that long. */
  readonly windowSec: number;
  /** Evaluation takes the caller's `subject.properties.jkt` instead of a forwarded proof. */
  readonly trustResourceVerification: boolean;
}

export interface Broker {
  readonly clock: Clock;
  readonly clients: ClientStore;
  readonly grants: GrantStore;
  readonly usage: UsageStore;
  readonly approvals: ApprovalStore;
  readonly decisions: DecisionLog;
  /** Evaluation state, one owner: a grant's evaluation facts, outcomes, and the decision's commit. */
  readonly evaluations: EvaluationStore;
  /** Single-use marks: client assertion and DPoP proof jtis. */
  readonly oneTimeUses: OneTimeUses;
  readonly signer: TokenSigner;
  readonly verifier: TokenVerifier;
  /** RFC 9449 proof checks and server nonces. */
  readonly dpop: DpopVerifier;
  /** Resource clients' own tokens for the JSON API (AuthZEN, signals). */
  readonly callerTokens: CallerTokens;
  /** Signature checks of client assertions and workload tokens, with registered or fetched keys. */
  readonly assertionKeys: AssertionKeys;
  /** Clients whose client_id is the https URL of their Client ID Metadata Document. */
  readonly clientMetadata: ClientMetadataDocuments;
  /** Workload identity federation: the issuers whose tokens authenticate mapped agents. */
  readonly trustedIssuers: TrustedIssuerStore;
  /** What the last full evaluation of each grant read, for deciding the next ones (see decideFromSnapshot). */
  readonly snapshots: GrantSnapshots;
  readonly policy: PolicyRegistry;
  readonly settings: BrokerSettings;
  readonly log: Logger;
  readonly metrics: BrokerMetrics;
  /** Hands grants to the worker; every process with the API has one. */
  readonly reevaluator: Reevaluator;
  /** Pushes revocations and narrowings to registered receivers (CAEP). */
  readonly notifier: GrantNotifier;
  /** Posts each new approval request to the configured notify targets (queued, retried). */
  readonly approvalNotifier: ApprovalNotifier;
  /** Operator tokens of the admin API (kept as hashes). */
  readonly operators: OperatorTokenStore;
}

export const nowSecOf = (broker: Pick<Broker, 'clock'>) => Math.floor(broker.clock.nowMs() / 1000);
