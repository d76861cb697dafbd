// Every Redis key, channel and queue name Mandate uses, built in one place under one prefix.
import { MAX_GRANT_TTL_SEC } from '../domain/intent.ts';

/**
 * A client's grant index is cut into buckets by grant deadline, each bucket a key that expires at
 * its end: the index then forgets dead grants by itself, with nothing to prune. The bucket width
 * bounds how long an ended grant's entry lingers, the number of buckets a lookup reads
 * (MAX_GRANT_TTL_SEC / width + 2 = 98) and nothing on the mint path.
 */
export const CLIENT_INDEX_BUCKET_SEC = 900;

/** The bucket (its end, epoch s) that indexes a grant ending at `deadlineSec`. */
export const clientIndexBucket = (deadlineSec: number) =>
  Math.ceil(deadlineSec / CLIENT_INDEX_BUCKET_SEC) * CLIENT_INDEX_BUCKET_SEC;

/**
 * The prefix the grant world's keys carry on Redis Cluster: the configured one wrapped in a hash
 * tag (`mandate:` -> `{mandate:}`), unless it holds one already. Redis hashes only a key's first
 * `{...}`, so those keys then lie in one slot (the grant and client tags after it are inert) and
 * every script, MULTI and pipeline over them stays atomic and legal (see docs/architecture.md,
 * "Redis Sentinel and Redis Cluster"). A single server or Sentinel keeps every name as configured.
 */
export function clusterPrefix(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`;
}

/**
 * The keys of one grant share the hash tag `{g:<id>}` so the scripts that change them together
 * stay atomic should the grants be spread over slots; on Cluster today the grant world is one
 * slot (see clusterPrefix), and the keys used alone (rate counters, one-time uses, sessions,
 * signing keys, policy, receivers, operator tokens, trusted issuers) spread over the others. `cluster` also gives BullMQ a hash-tagged prefix of its own (each
 * queue's keys in one slot, as BullMQ requires, apart from Mandate's own slot).
 */
export function createKeyNames(configured: string, opts: { cluster?: boolean } = {}) {
  /** The grant world's prefix: grants, clients, approvals, indexes, usage and the decision log. */
  const prefix = opts.cluster ? clusterPrefix(configured) : configured;
  /**
   * Keys only ever used alone (or with their own family, under `family`) keep the configured
   * prefix: on Cluster they hash to slots of their own and spread over the primaries.
   */
  const own = configured;
  const family = (name: string) =>
    opts.cluster ? clusterPrefix(`${configured}${name}`) : `${configured}${name}`;
  const g = (id: string) => `${prefix}{g:${id}}`;
  const clientGrants = (clientId: string, bucketEnd: number) =>
    `${prefix}grants:of-client:${bucketEnd}:${clientId}`;
  return {
    prefix,
    /**
     * Hash: one grant. Fields are named in GRANT_FIELDS (grant-fields.ts): `s` status, `e` deadline
     * (epoch s), `c` client id, `t` task id, `v` policy version, `r` reason, `rt` current
     * refresh-token hash, `ru` marks of used refresh hashes, `pr` pending-record marker (JSON), `h`
     * stream id of the grant's first decision record (its mint: the decision log writes it, and the
     * hash exists from then on; the grant is stored only where it is present), and one field per
     * access token minted from the
     * grant and not yet pruned: its jti without the grant id (`.<random>`; `=<jti>` for a jti not
     * of the `<grant id>.<random>` form) -> its exp. Small enough for Redis' compact listpack
     * encoding, which is why tokens are fields here and not a sorted set of their own.
     */
    grant: g,
    /** String: the grant's data (intents, context snapshot), compact JSON. */
    grantData: (id: string) => `${g(id)}:d`,
    /** Set: revoked jtis of the grant. */
    grantRevokedJtis: (id: string) => `${g(id)}:rj`,
    /** List: signals (JSON) reported for the grant, oldest first. */
    grantSignals: (id: string) => `${g(id)}:sig`,
    /** String (JSON): a bounded summary of every signal the grant received (see SignalSummary), with a version counter. */
    grantSignalSummary: (id: string) => `${g(id)}:sigsum`,
    /**
     * Set: ids of the grants delegated from this one (RFC 8693 token exchange), added atomically
     * with the child's creation while this grant is active (scripts/createChildGrant-9.lua); it
     * shares the grant's hash tag and ends at its deadline (no child outlives its parent).
     */
    grantChildren: (id: string) => `${g(id)}:children`,
    /** String: index of the last declared step the grant's task took. */
    grantStep: (id: string) => `${g(id)}:step`,
    /** Hash: the grant's evaluations per bucket of CALLS_WINDOW (bucket -> count), for `calls_last_minute`. */
    grantCalls: (id: string) => `${g(id)}:calls`,
    /** Hash: the grant's denied evaluations per bucket of DENIED_WINDOW (bucket -> count), for `denied_last_hour`. */
    grantDenied: (id: string) => `${g(id)}:denied`,
    /**
     * Set: actions an agent was allowed at an evaluation (for `new_action`; minting a token that
     * holds an action is no use of it). Kept 90 days after the last use of any of them.
     */
    usedActions: (clientId: string) => `${prefix}used:${clientId}`,
    /**
     * String: stream ids of the grant's decision records after its first (which is the hash's `h`),
     * each followed by a comma, in order. Written only for a grant with more than one record; it
     * ends with the grant.
     */
    grantHistory: (id: string) => `${g(id)}:hist`,
    /** Sorted set: live grant id -> deadline. The sweep walks it. */
    liveGrants: `${prefix}grants:live`,
    /**
     * Hash: the grants of one client ending in one bucket (see CLIENT_INDEX_BUCKET_SEC): grant id ->
     * task id; it expires at `bucketEnd`. One key per client and bucket rather than one per task (a
     * per-task key cost more than the grant hash itself), one field per grant (a task may hold
     * thousands of grants: nothing grows a value per mint).
     */
    clientGrants,
    /** The keys of every bucket of one client that may hold a grant alive at `nowSec`. */
    clientGrantBuckets: (clientId: string, nowSec: number): string[] => {
      const out: string[] = [];
      const last = clientIndexBucket(nowSec + MAX_GRANT_TTL_SEC) + CLIENT_INDEX_BUCKET_SEC;
      for (let end = clientIndexBucket(nowSec); end <= last; end += CLIENT_INDEX_BUCKET_SEC)
        out.push(clientGrants(clientId, end));
      return out;
    },
    /** Sorted set: client id -> the latest deadline of its grants (where a task's grants are looked up). */
    clientsWithGrants: `${prefix}grants:clients-until`,
    /** String: one client, JSON. */
    client: (id: string) => `${prefix}client:${id}`,
    /** Set: every client id. */
    clients: `${prefix}clients`,
    /**
     * String: the kill-switch mark of one client, `disabled` or `deleted` (a tombstone that outlives
     * every grant the client could hold); absent while the client may hold grants. Written before
     * the client's grants are revoked and read by the scripts that create grants and approvals, so
     * nothing new is created for the client once it is there. The client's keys share the hash tag
     * `{c:<id>}`: under Redis Cluster the mark, the live-grant set and the pending-approval set stay
     * in one slot (see scripts/createGrant-7.lua on how the check maps onto Cluster).
     */
    clientState: (id: string) => `${prefix}{c:${id}}:state`,
    /** Sorted set: the client's grants neither revoked nor known to have ended: grant id -> deadline (the per-agent cap counts it). */
    clientLiveGrants: (id: string) => `${prefix}{c:${id}}:live`,
    /** Sorted set: the client's pending approval requests (mint, elevation): approval id -> expiry (the per-agent cap counts it). */
    clientPendingApprovals: (id: string) => `${prefix}{c:${id}}:pending`,
    /** String: one approval, JSON. */
    approval: (id: string) => `${prefix}approval:${id}`,
    /** String: the pending approval of one intent (by the intent's hash). */
    approvalByIntent: (hash: string) => `${prefix}approval:intent:${hash}`,
    /** String with expiry: set while the agent must not poll again. */
    approvalPoll: (id: string) => `${prefix}approval:${id}:poll`,
    /** Sorted set: approval ids by expiry (pending ones and recently decided). */
    pendingApprovals: `${prefix}approvals`,
    /** Sorted set: ids of approvals still pending, by expiry (what `mandate_approvals_pending` counts). */
    openApprovals: `${prefix}approvals:open`,
    /** Hash: the policy set in force (version, text, sha256, updated_at). */
    policy: family('policy'),
    /** String counter: the last policy version handed out. */
    policyVersion: `${family('policy')}:version`,
    /** Hash: signing keys by kid, and `active` -> kid. */
    keys: `${own}keys`,
    /** Stream: decision records. */
    decisions: `${prefix}decisions`,
    /** Hash: chain id -> JSON {seq, hash} of the last record each writer appended. */
    auditHeads: `${prefix}audit:heads`,
    /** String counter: bytes of record text ever appended to the decision stream (see the append script's byte cap). */
    auditBytes: `${prefix}audit:bytes`,
    /** List: "<stream id> <bytes appended before it>" every so many bytes, oldest first: where to trim the stream by bytes. */
    auditByteMarks: `${prefix}audit:marks`,
    /** Consumer group (on the decisions stream) of one audit sink: its cursor in the stream. */
    auditSinkGroup: (sink: string) => `sink:${sink}`,
    /** String with expiry: the process writing one audit sink now. */
    auditSinkLease: (sink: string) => `${own}audit:sink:${sink}:lease`,
    /** String with expiry: one claimed single-use value (an assertion's or a proof's jti, hashed) of one kind. */
    oneTimeUse: (kind: string, digest: string) => `${own}once:${kind}:${digest}`,
    /** String: a random secret every broker process shares, by name (`dpop_nonce`: the DPoP nonces' HMAC key). */
    sharedSecret: (name: string) => `${own}secret:${name}`,
    /** Set: SHA-256 of admin tokens generated by versions before operator tokens (moved into operatorTokens at start). */
    adminTokens: `${family('admin')}:tokens`,
    /** Hash: SHA-256 (hex) of an operator token -> JSON {id, name, roles, created_at, expires_at, created_by}. */
    operatorTokens: `${family('admin')}:operators`,
    /** String (JSON) with expiry: one pending authorization request (/oauth/authorize), under the SHA-256 of its id. */
    pendingAuthorization: (digest: string) => `${prefix}authz:pending:${digest}`,
    /**
     * Hash with expiry: one authorization code under the SHA-256 of the code: `v` its JSON, `u` set
     * at its first use, `g` the grant that use issued, `r` set when it was presented again.
     */
    authorizationCode: (digest: string) => `${prefix}authz:code:${digest}`,
    /** String (JSON) with expiry: one console session, under the SHA-256 of its id (never the id itself). */
    operatorSession: (digest: string) => `${own}console:session:${digest}`,
    /** String counter with expiry: failures or calls in one window. */
    rate: (name: string, key: string, window: number) => `${own}rate:${name}:${key}:${window}`,
    /** Pub/sub channel: invalidations for every broker process. */
    events: `${prefix}events`,
    /** String counter: the marker an acknowledged write's WAIT follows (see redis-replica-acks.ts). */
    replicaAckMarker: `${prefix}replica-ack`,
    /** Hash: trusted issuer id -> its `iss` (shares a slot with trustedIssuersByIssuer). */
    trustedIssuerIds: `${own}{trusted}:ids`,
    /** Hash: trusted issuer `iss` -> the entry's JSON (one read per workload token). */
    trustedIssuersByIssuer: `${own}{trusted}:by-issuer`,
    /** Hash: CAEP receiver id -> JSON. */
    receivers: `${own}receivers`,
    /** BullMQ queue of CAEP deliveries (one job per receiver and event); no longer filled, see caepReceiverQueue. */
    caepQueue: 'caep',
    /** BullMQ queue of one CAEP receiver's deliveries: one slow receiver never holds up another's (ids have no ':'). */
    caepReceiverQueue: (receiverId: string) => `caep.${receiverId}`,
    /** BullMQ queue of approval notifications (one job per new approval and notify target). */
    approvalNotifyQueue: 'approval-notify',
    /** BullMQ queue of re-evaluation jobs. */
    reevaluationQueue: 'reevaluate',
    /** BullMQ prefix (never an ioredis keyPrefix); on Cluster a hash tag of its own, `{<prefix>q}`. */
    queuePrefix: opts.cluster ? `{${configured.replace(/[{}]/g, '')}q}` : `${prefix}q`,
  };
}

export type KeyNames = ReturnType<typeof createKeyNames>;
