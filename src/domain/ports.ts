// The interfaces services depend on; the store, crypto and policy adapters implement them.
// Over 350 lines on purpose: every port in one file, so the contract the adapters implement reads in one place.
import type { AccessTokenClaims, CallerTokenClaims } from './access-token.ts';
import type { Approval, ApprovalStatus } from './approval.ts';
import type { Client } from './client.ts';
import type { DecisionInput, DecisionRecord, SharedInputsRef } from './decision-record.ts';
import type { DpopCheck } from './dpop.ts';
import type { Signal, SignalSummary } from './drift.ts';
import type { Grant, GrantStatus } from './grant.ts';
import type { AgentTask } from './intent.ts';
import type { KeySource } from './key-source.ts';
import type { CountRange, PolicyDecider } from './policy-facts.ts';
import type { NotifiedGrant } from './security-event.ts';

export interface Clock {
  /** Epoch milliseconds. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export interface ClientStore {
  get(id: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  /** Creates the client; false when the id is taken. */
  create(client: Client): Promise<boolean>;
  /**
   * Replaces a stored client and, in the same atomic write, its kill-switch mark (see
   * ClientRefusal): set when the client is disabled, cleared when it is not. False (nothing
   * written) when the client was deleted meanwhile, unless `revive` (the config file re-creates it).
   */
  put(client: Client, opts?: { revive?: boolean }): Promise<boolean>;
  /**
   * Marks the client deleted (a tombstone living `ttlSec`): from then on no grant or approval is
   * created for it, whatever a process has cached. Written before its grants are revoked.
   */
  markDeleted(id: string, ttlSec: number): Promise<void>;
  /** Removes the client's record; its deletion mark stays until it expires or the id is created again. */
  delete(id: string): Promise<boolean>;
}

/** Why the store refused to create a grant or an approval for a client: its kill-switch mark. Nothing was written. */
export type ClientRefusal = 'client_disabled' | 'client_deleted';

/** What creating a grant did: created it, or refused it (nothing written) for the client's mark or the per-agent cap. */
export type GrantCreateOutcome = 'created' | ClientRefusal | 'live_grant_limit' | 'parent_inactive';

/** What opening an approval request did: created it, or refused it (nothing written) for the client's mark or the per-agent cap. */
export type ApprovalCreateOutcome = 'created' | ClientRefusal | 'pending_approval_limit';

/** An access token as the store tracks it. */
export interface IssuedToken {
  readonly jti: string;
  /** Epoch seconds. */
  readonly exp: number;
  /**
   * The digest of the token's exact text (crypto/token-digest.ts), stored beside it: presented
   * again, the token is known as Mandate's own by this digest, without a signature check.
   */
  readonly digest?: string | undefined;
}

/** What introspection needs from the store, in one round trip. */
export interface GrantCheck {
  readonly status: GrantStatus;
  readonly expires_at: number;
  readonly client_id: string;
  readonly jtiRevoked: boolean;
  /** The digest stored when the token was issued (IssuedToken.digest), if any. */
  readonly tokenDigest?: string | undefined;
}

export type RefreshOutcome = 'ok' | 'replay' | 'invalid' | 'missing' | 'inactive';

export interface GrantFilter {
  readonly client_id?: string | undefined;
  readonly task_id?: string | undefined;
  readonly status?: GrantStatus | undefined;
  readonly limit: number;
}

export interface GrantStore {
  /**
   * Stores a new grant with its first token and refresh-token hash, atomically. Refused (store
   * unavailable, nothing written) until its mint decision record has landed: pass it as the
   * record's `followedBy`, so no grant ever exists without its record. Refused too, atomically,
   * when the client is marked disabled or deleted, or already holds `maxLiveGrantsPerAgent` grants
   * neither revoked nor ended. A grant with `delegation.parent` is created only while that parent is
   * active and ends no sooner ('parent_inactive' otherwise), and joins the parent's children in
   * the same atomic write.
   */
  create(
    grant: Grant,
    token: IssuedToken,
    refreshHash: string,
    limits?: { maxLiveGrantsPerAgent?: number },
  ): Promise<GrantCreateOutcome>;
  /** The ids of the grants delegated from each of `ids` (one list per id, in one round trip). */
  childrenOf(ids: readonly string[]): Promise<string[][]>;
  /** The grant with its refresh-token state (`used_refresh_hashes` holds refreshHashMark()s). */
  get(
    id: string,
  ): Promise<(Grant & { refresh_hash: string; used_refresh_hashes: string[] }) | undefined>;
  check(grantId: string, jti: string): Promise<GrantCheck | undefined>;
  /**
   * Rotates the refresh token and adds the new access token, atomically, only if `presentedHash`
   * is still current and the grant active. A previously used hash revokes the grant (replay).
   * With `granted`, the grant is narrowed and every outstanding token revoked.
   */
  refresh(
    grantId: string,
    presentedHash: string,
    next: {
      refreshHash: string;
      token: IssuedToken;
      granted?: AgentTask[] | undefined;
      requested?: AgentTask[] | undefined;
      /** The grant grew (elevation): outstanding tokens stay valid. */
      widened?: boolean | undefined;
      policyVersion: number;
    },
    nowSec: number,
  ): Promise<RefreshOutcome>;
  /**
   * Revokes a grant and so every token of it. Counts the tokens still unexpired. With `pending`,
   * the grant also holds a marker naming the decision record to come, cleared atomically when
   * that record is appended: a crash in between leaves the marker for the sweep to recover.
   */
  revokeGrant(
    id: string,
    reason: string,
    nowSec: number,
    pending?: PendingRecord,
  ): Promise<{ revoked: boolean; tokens: number }>;
  /** Revokes one access token by jti. */
  revokeToken(
    jti: string,
    nowSec: number,
  ): Promise<{ grantId?: string | undefined; revoked: boolean }>;
  /** Narrows an active grant whose granted set is still `expected`; revokes its outstanding tokens. */
  narrow(
    id: string,
    expected: AgentTask[],
    granted: AgentTask[],
    policyVersion: number,
    nowSec: number,
    pending?: PendingRecord,
  ): Promise<boolean>;
  /**
   * Moves a grant from status `from` to `to` (resume after approval, or an approved elevation),
   * with changed fields and optionally a new access token. False when the status had moved.
   */
  update(
    id: string,
    from: GrantStatus,
    to: GrantStatus,
    change:
      | Partial<Pick<Grant, 'requested' | 'granted' | 'context' | 'policy_version'>>
      | undefined,
    token?: IssuedToken,
  ): Promise<boolean>;
  /** Suspends an active grant pending approval. */
  suspend(id: string, reason: string, pending?: PendingRecord): Promise<boolean>;
  /** Replaces a pending-record marker whose id is `expected` (one recovering worker wins). */
  claimPending(id: string, expected: string, next: PendingRecord): Promise<boolean>;
  /** Drops grants from the live index (they ended). */
  dropFromLive(ids: readonly string[]): Promise<void>;
  /**
   * Records a signal on the grant (its recent list is capped; a summary keeps every type, the
   * latest ip and the highest risk). 'missing' when the grant does not exist; 'too_many_types'
   * (nothing written) when the type is new and the grant holds the most distinct types.
   */
  addSignal(id: string, signal: Signal): Promise<'added' | 'missing' | 'too_many_types'>;
  /** Grants with their signals, in one round trip; missing ones are left out. */
  getMany(
    ids: readonly string[],
  ): Promise<Array<{ grant: Grant; signals: Signal[]; pending?: PendingRecord | undefined }>>;
  /** Live grant ids in deadline order, a page at a time; expired ones are dropped from the index. */
  liveGrantIds(offset: number, count: number, nowSec: number, prune?: boolean): Promise<string[]>;
  /** How many grants are live (active or suspended, before their deadline) at `nowSec`. */
  countLive(nowSec: number): Promise<number>;
  /** The grant an access token belongs to, while the token may be valid. */
  grantIdOfToken(jti: string): Promise<string | undefined>;
  /** The ids of a client's grants that may be alive at `nowSec` (an index: ended ones may be among them). */
  grantIdsOfClient(clientId: string, nowSec: number): Promise<string[]>;
  /** The ids of a task's grants that may be alive at `nowSec`, across every client. */
  grantIdsOfTask(taskId: string, nowSec: number): Promise<string[]>;
  list(filter: GrantFilter, nowSec: number): Promise<Grant[]>;
}

/** Most decision records one query returns (a grant's history is kept at least this deep). */
export const MAX_DECISIONS_PER_QUERY = 1000;

export interface DecisionQuery {
  readonly grant_id?: string | undefined;
  readonly client_id?: string | undefined;
  /** The newest this many, at most MAX_DECISIONS_PER_QUERY. */
  readonly limit: number;
}

export type AuditVerdict =
  | { ok: true; records: number }
  | {
      ok: false;
      records: number;
      broken: { id: string; chain: string; seq: number; problem: string };
    };

/** A decision record a grant change still owes (see GrantStore.revokeGrant). */
export interface PendingRecord {
  readonly id: string;
  readonly outcome: string;
  readonly reason: string;
  /** When the change was applied (epoch s); absent on markers written before it was kept. */
  readonly at?: number;
}

export interface DecisionLog {
  /**
   * Appends a record; resolves once it is stored (hash-chained). `id` fixes the record's id;
   * `clearsPendingOf` clears that grant's pending-record marker in the same atomic append.
   * `followedBy` is a store write started right after the append is sent, on the same connection,
   * so it lands after the record or, should the process die in between, not at all (a new grant
   * never exists without its mint record); the record then resolves once both are done.
   * A decision conditional on an evaluation's guard is committed by EvaluationStore.commit.
   */
  record(
    input: DecisionInput,
    opts?: { id?: string; clearsPendingOf?: string; followedBy?: () => Promise<unknown> },
  ): Promise<DecisionRecord>;
  /**
   * Appends the inputs a batch of decisions shares as one record (kind 'inputs'), so that each
   * decision names them (`inputs.shared_context`, a SharedInputsRef) instead of holding a copy.
   */
  recordShared(input: Omit<DecisionInput, 'kind'>): Promise<SharedInputsRef>;
  /** A new, unique record id. */
  nextId(): string;
  list(query: DecisionQuery): Promise<DecisionRecord[]>;
  /**
   * The inputs of the shared records these records name, by record id: null for one retention
   * trimmed, or that is not the record named (its hash differs).
   */
  sharedInputs(
    records: readonly DecisionRecord[],
  ): Promise<Record<string, Record<string, unknown> | null>>;
  verify(): Promise<AuditVerdict>;
  /**
   * Records in stream order: from the first at or after `sinceMs`, or after the stream id `after`,
   * at most `limit`; each with its stream id.
   */
  page(
    from: { sinceMs: number } | { after: string },
    limit: number,
  ): Promise<Array<{ sid: string; record: DecisionRecord }>>;
}

/** One record as an audit sink reads it: undefined when retention trimmed it before it was written. */
export interface AuditFeedEntry {
  readonly sid: string;
  readonly record: DecisionRecord | undefined;
  /** The record as stored (its exact text: what its hash covers), when there is one. */
  readonly text: string | undefined;
}

/**
 * The decision stream as each audit sink follows it (a consumer group per sink, with a writer
 * lease so one process writes a sink at a time, in stream order; acknowledged once written).
 */
export interface AuditFeed {
  /** Creates the sink's cursor at the stream's end when it has none (a new sink starts from now). */
  open(sink: string): Promise<void>;
  /**
   * Up to `count` records: `new` ones never handed out, or `pending` ones handed out and not yet
   * acknowledged, after the stream id `after` (in order).
   */
  read(
    sink: string,
    from: { new: true } | { pendingAfter: string },
    count: number,
  ): Promise<AuditFeedEntry[]>;
  /** Marks records written: the cursor moves past them. */
  ack(sink: string, sids: readonly string[]): Promise<void>;
  /** Records appended and not yet written by the sink (undefined when Redis cannot tell). */
  lag(sink: string): Promise<number | undefined>;
  /** Takes or keeps the sink's writer lease for `ttlMs`; false while another process holds it. */
  lease(sink: string, holder: string, ttlMs: number): Promise<boolean>;
  release(sink: string, holder: string): Promise<void>;
}

/**
 * Single-use marks (RFC 7523 client assertion `jti`s, RFC 9449 DPoP proof `jti`s, ID-JAG `jti`s): the first use
 * of a value within its lifetime claims it, every later use is a replay.
 */
export interface OneTimeUses {
  /**
   * Claims `value` in `kind` until `untilSec` (epoch s). True for the first claim; false when it
   * was claimed before and has not expired. Values are hashed before they are stored.
   */
  claim(kind: OneTimeUseKind, value: string, untilSec: number): Promise<boolean>;
}

export type OneTimeUseKind = 'client_assertion' | 'dpop_proof' | 'id_jag';

/** What a DPoP proof must show for the request it came with (see ProofExpectation in dpop.ts). */
export interface DpopExpectation {
  readonly method: string;
  readonly uri: string;
  /** The access token the proof comes with: its `ath` must be this token's hash. */
  readonly accessToken?: string | undefined;
  /** The proof must carry a current server nonce. */
  readonly requireNonce: boolean;
}

/** RFC 9449 proofs: verified statelessly (the jti's single use is claimed through OneTimeUses). */
export interface DpopVerifier {
  /** Checks form, header, signature and claims; the refusal names the first check that failed. */
  verify(proof: string, expected: DpopExpectation): Promise<DpopCheck>;
  /** A server nonce every broker process accepts for a while (RFC 9449 8). */
  nonce(): string;
}

export interface TokenSigner {
  /** Signs an access token with the active key (`typ: at+jwt`, `kid`). */
  sign(claims: AccessTokenClaims): Promise<string>;
  /** The digest of a signed token stored beside its jti (IssuedToken.digest; see TokenVerifier.confirmIssued). */
  digestOf(token: string): string;
}

export interface TokenVerifier {
  /** Verifies signature, type, issuer and times; throws InvalidToken with the reason. */
  verify(token: string): Promise<AccessTokenClaims>;
  /**
   * Reads one of Mandate's own access tokens as verify checks it, all but the signature: form,
   * header (a key of the ring, its algorithm, the type), claims, issuer and times; throws
   * InvalidToken. `known` when these exact bytes were proven before: otherwise the claims are
   * unproven until confirmIssued says so, and name no more than where to look for the proof.
   */
  inspect(token: string): Promise<InspectedToken>;
  /**
   * Proves an inspected token is one Mandate issued, unaltered: by the digest stored when it was
   * issued (IssuedToken.digest, compared in constant time; a different digest refuses it), or,
   * with none stored, by its signature (verify). Throws InvalidToken.
   */
  confirmIssued(
    token: string,
    inspected: InspectedToken,
    storedDigest: string | undefined,
  ): Promise<AccessTokenClaims>;
}

/** What TokenVerifier.inspect read (opaque to all but the verifier that made it). */
export interface InspectedToken {
  readonly claims: AccessTokenClaims;
  /** These exact bytes were proven before: the claims need no further proof. */
  readonly known: boolean;
}

/**
 * A resource client's own access token for Mandate's JSON API (AuthZEN, signals): `aud` is
 * Mandate's issuer and it names no grant, so it is never an access token for a resource.
 */
export interface CallerTokens {
  /** Signs a caller token with the active key (`typ: at+jwt`). */
  signCallerToken(claims: CallerTokenClaims): Promise<string>;
  /** Verifies signature, type, issuer, audience and times; throws InvalidToken with the reason. */
  verifyCallerToken(token: string): Promise<CallerTokenClaims>;
}

/** How a JWT signed by someone else (a client assertion, a workload token) fared against its keys. */
export type ForeignSignature = 'verified' | 'bad_signature' | 'no_keys';

/** Verifies signatures of JWTs signed by clients and trusted issuers, with their registered keys. */
export interface AssertionKeys {
  /**
   * Checks `jwt`'s signature with a key of `keys` for its header's `alg`, which must be one of
   * `algorithms`: the key of its `kid`, or without one each key of that algorithm in turn. A
   * jwks_uri is fetched within bounds (timeout, size, https) and cached; an unknown `kid` fetches
   * it again at most once a minute. 'no_keys' when no key could be had or none fits.
   */
  verify(jwt: string, keys: KeySource, algorithms: readonly string[]): Promise<ForeignSignature>;
}

export interface PolicySource {
  /** The policy set in force. */
  current(): PolicyDecider;
}

/** Hands grants to the re-evaluation worker (BullMQ) without waiting for the sweep. */
export interface Reevaluator {
  enqueue(ids: readonly string[], cause: string): Promise<void>;
  /** Re-evaluates every live grant soon (policy changed). */
  enqueueAll(cause: string): Promise<void>;
}

/**
 * Tells resource servers about grants that ended or shrank (CAEP over RFC 8935 push). `grant.granted`
 * is what the grant held before the change: only receivers on those locations (or, for a
 * narrowing, on the narrowed set's) hear of it.
 */
export interface GrantNotifier {
  revoked(grant: NotifiedGrant, reason: string): Promise<void>;
  narrowed(grant: NotifiedGrant, granted: AgentTask[], reason: string): Promise<void>;
}

export const silentNotifier: GrantNotifier = {
  revoked: async () => undefined,
  narrowed: async () => undefined,
};

/**
 * Tells the configured notify targets (config `approvals.notify`) of a new approval request.
 * Never throws into the caller and never holds it up long: delivery is queued and retried.
 */
export interface ApprovalNotifier {
  opened(approval: Approval): Promise<void>;
}

export const silentApprovalNotifier: ApprovalNotifier = { opened: async () => undefined };

/** Everything an action-time decision reads, in one round trip (the call is counted on the way). */
export interface EvaluationState {
  readonly status: GrantStatus;
  readonly expires_at: number;
  readonly client_id: string;
  readonly grant: Omit<Grant, 'status' | 'reason'>;
  readonly jtiRevoked: boolean;
  /** What the grant's signals add up to (never the history itself). */
  readonly signals: SignalSummary;
  readonly callsLastMinute: number;
  readonly deniedLastHour: number;
  readonly actionUsedBefore: boolean;
  readonly lastStep: number;
  /** Identifies the grant's data and signal summary as read: an EvaluationGuard holds only while they are unchanged. */
  readonly digest: string;
}

/**
 * What EvaluationStore.readProving found: the digest stored for the token (to confirm in constant
 * time, or refuse), and the state only when it matched the presented one (the call then counted).
 * `grantFound` false: no grant, nothing stored.
 */
export interface ProvingRead {
  readonly grantFound: boolean;
  readonly storedDigest?: string;
  readonly state?: EvaluationState;
}

/**
 * What an evaluation decided without reading first (from the state an earlier one read) assumed.
 * The evaluation store's commit checks it atomically with the record's append (the guard is the
 * append's precondition), and only then counts the call:
 * the grant is still active with the same deadline, policy version and digest, the token is not
 * revoked, the agent used the action before, and this call and the denials this hour fall in the
 * ranges the decision holds for. Otherwise nothing is written and the record fails with StateChanged.
 */
export interface EvaluationGuard {
  readonly grantId: string;
  readonly jti: string;
  readonly clientId: string;
  readonly action: string;
  readonly expiresAt: number;
  readonly policyVersion: number;
  readonly digest: string;
  /** Calls in the trailing minute (CALLS_WINDOW at nowSec), this call included. */
  readonly calls: CountRange;
  /** Denials in the trailing hour (DENIED_WINDOW at nowSec). */
  readonly denied: CountRange;
  readonly nowSec: number;
}

/** What an evaluation decided, as the usage counters take it (see EvaluationStore.recordOutcome). */
export interface EvaluationOutcome {
  readonly grantId: string;
  readonly clientId: string;
  readonly action: string;
  readonly allowed: boolean;
  /** The agent had not used this action before (from the read): an allowed call adds it. */
  readonly newAction: boolean;
  readonly step: number | undefined;
  readonly expiresAt: number;
  readonly nowSec: number;
}

/**
 * The state of action-time evaluations, one owner: an evaluation reads a grant's facts (counting
 * the call), records its outcome, and commits its decision record. A decision taken without
 * reading (from a snapshot of an earlier read) commits with an EvaluationGuard: the record is
 * appended, and the call counted, only if the guard holds.
 */
export interface EvaluationStore {
  /** Reads the grant and usage and counts this call. Undefined when the grant is gone. */
  read(
    grantId: string,
    jti: string,
    clientId: string,
    action: string,
    nowSec: number,
  ): Promise<EvaluationState | undefined>;
  /**
   * read() for a token not yet proven (TokenVerifier.inspect), in the same round trip: reads,
   * counts and returns the state only if `tokenDigest` (TokenVerifier.digestOf the presented token)
   * is the digest stored when the token was issued; otherwise counts nothing.
   */
  readProving(
    grantId: string,
    jti: string,
    clientId: string,
    action: string,
    nowSec: number,
    tokenDigest: string,
  ): Promise<ProvingRead>;
  /** Records the outcome: an allowed action is now used, a step taken; a denial counted. Returns denials this hour. */
  recordOutcome(outcome: EvaluationOutcome): Promise<number>;
  /**
   * Commits the decision record to the decision log. With `guard` (about the record's own grant),
   * only if it holds, atomically with the append and in the same round trip; otherwise nothing is
   * written and it rejects with StateChanged.
   */
  commit(input: DecisionInput, guard?: EvaluationGuard): Promise<DecisionRecord>;
}

/** Usage counters read outside an evaluation (an evaluation's own are the EvaluationStore's). */
export interface UsageStore {
  /** Current counters of many grants (for re-evaluation). */
  countersOf(
    ids: readonly string[],
    nowSec: number,
  ): Promise<Array<{ calls: number; denied: number }>>;
  /**
   * Which of the asked actions each agent has used (been allowed at an evaluation), one set per
   * query, in one round trip: what `usage.new_action` is decided with outside an evaluation.
   */
  usedActionsOf(
    queries: ReadonlyArray<{ readonly clientId: string; readonly actions: readonly string[] }>,
  ): Promise<Array<ReadonlySet<string>>>;
}

export interface ApprovalStore {
  /**
   * Opens an approval request, unless (atomically, nothing written) the client is marked disabled
   * or deleted, or, with `maxPendingPerAgent`, already has that many pending: only requests opened
   * with a cap count against it (an agent's own; not the resume requests the system opens).
   */
  create(
    approval: Approval,
    limits?: { maxPendingPerAgent?: number },
  ): Promise<ApprovalCreateOutcome>;
  get(id: string): Promise<Approval | undefined>;
  /** The approval still pending for this exact intent, if any. */
  pendingFor(intentKey: string): Promise<Approval | undefined>;
  list(status: ApprovalStatus | undefined, nowSec: number, limit: number): Promise<Approval[]>;
  /** How many requests are pending and not yet expired at `nowSec`. */
  countPending(nowSec: number): Promise<number>;
  /** Changes the approval only if its status is still `expected`; the changed approval, or undefined. */
  transition(
    id: string,
    expected: ApprovalStatus,
    patch: Partial<Approval>,
  ): Promise<Approval | undefined>;
  /** True when a poll now respects the interval. */
  pace(id: string, intervalSec: number): Promise<boolean>;
}
