// Every Redis key, channel and queue name Mandate uses, built in one place under one prefix.

/**
 * The keys of one grant share the hash tag `{g:<id>}` so the scripts that change them together
 * stay atomic under Redis Cluster.
 */
export function createKeyNames(prefix: string) {
  const g = (id: string) => `${prefix}{g:${id}}`;
  return {
    prefix,
    /**
     * Hash: one grant. Fields: `s` status, `e` deadline (epoch s), `c` client id, `t` task id,
     * `v` policy version, `r` reason, `rt` current refresh-token hash, `ru` marks of used refresh
     * hashes, `pr` pending-record marker (JSON), and one field per access token minted from the
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
    /** String: index of the last declared step the grant's task took. */
    grantStep: (id: string) => `${g(id)}:step`,
    /** Counter: the grant's evaluations in one minute (epoch minute). */
    grantCalls: (id: string, minute: number) => `${g(id)}:calls:${minute}`,
    /** Counter: the grant's denied evaluations in one hour (epoch hour). */
    grantDenied: (id: string, hour: number) => `${g(id)}:denied:${hour}`,
    /** Set: actions an agent has ever been allowed to perform (for `new_action`). */
    usedActions: (clientId: string) => `${prefix}used:${clientId}`,
    /** String: stream ids of the grant's decision records, comma-separated, in order. */
    grantHistory: (id: string) => `${g(id)}:hist`,
    /** Sorted set: live grant id -> deadline. The sweep walks it. */
    liveGrants: `${prefix}grants:live`,
    /**
     * Hash: the grants of one client: grant id -> task id. One key per client rather than one per
     * task (a per-task key cost more than the grant hash itself), one field per grant (a task may
     * hold thousands of grants: nothing grows a value per mint).
     */
    clientGrants: (clientId: string) => `${prefix}grants:by-client:${clientId}`,
    /** Set: ids of the clients with a `clientGrants` index (where a task's grants are looked up). */
    clientsWithGrants: `${prefix}grants:clients`,
    /** String: one client, JSON. */
    client: (id: string) => `${prefix}client:${id}`,
    /** Set: every client id. */
    clients: `${prefix}clients`,
    /** String: one approval, JSON. */
    approval: (id: string) => `${prefix}approval:${id}`,
    /** String: the pending approval of one intent (by the intent's hash). */
    approvalByIntent: (hash: string) => `${prefix}approval:intent:${hash}`,
    /** String with expiry: set while the agent must not poll again. */
    approvalPoll: (id: string) => `${prefix}approval:${id}:poll`,
    /** Sorted set: approval ids by expiry (pending ones and recently decided). */
    pendingApprovals: `${prefix}approvals`,
    /** Hash: the policy set in force (version, text, sha256, updated_at). */
    policy: `${prefix}policy`,
    /** String counter: the last policy version handed out. */
    policyVersion: `${prefix}policy:version`,
    /** Hash: signing keys by kid, and `active` -> kid. */
    keys: `${prefix}keys`,
    /** Stream: decision records. */
    decisions: `${prefix}decisions`,
    /** Hash: chain id -> JSON {seq, hash} of the last record each writer appended. */
    auditHeads: `${prefix}audit:heads`,
    /** Set: SHA-256 of generated admin tokens. */
    adminTokens: `${prefix}admin:tokens`,
    /** String counter with expiry: failures or calls in one window. */
    rate: (name: string, key: string, window: number) => `${prefix}rate:${name}:${key}:${window}`,
    /** Pub/sub channel: invalidations for every broker process. */
    events: `${prefix}events`,
    /** Hash: CAEP receiver id -> JSON. */
    receivers: `${prefix}receivers`,
    /** BullMQ queue of CAEP deliveries (one job per receiver and event). */
    caepQueue: 'caep',
    /** BullMQ queue of re-evaluation jobs. */
    reevaluationQueue: 'reevaluate',
    /** BullMQ prefix (never an ioredis keyPrefix). */
    queuePrefix: `${prefix}q`,
  };
}

export type KeyNames = ReturnType<typeof createKeyNames>;
