// The fields of a grant hash (KeyNames.grant), named once: the TS code reads them from here, the Lua scripts spell the same letters.

/**
 * One letter or two per field keeps the hash in Redis' compact listpack encoding. The scripts in
 * `scripts/` use these letters (each script's header names the ones it touches); a change here is
 * a change there and a data migration. Beside these fields, the hash holds one field per access
 * token (see tokenField: `.<random>` or `=<jti>` -> exp) and one per token's issued digest
 * (tokenDigestField: `#` + that name -> SHA-256 of the token, base64url).
 */
export const GRANT_FIELDS = {
  /** GrantStatus: `active`, `suspended`, `revoked`. */
  status: 's',
  /** Deadline, epoch s. */
  deadline: 'e',
  clientId: 'c',
  taskId: 't',
  policyVersion: 'v',
  /** Why the grant was revoked or suspended. */
  reason: 'r',
  /** Hash of the current refresh token. */
  refreshHash: 'rt',
  /** Marks of the last used refresh hashes, comma-separated (see refreshHashMark). */
  usedRefreshMarks: 'ru',
  /** The pending-record marker, JSON (a decision record the grant still owes). */
  pendingRecord: 'pr',
  /** Stream id of the grant's first decision record (its mint); the grant is stored only where it is present. */
  firstRecord: 'h',
} as const;

export type GrantField = (typeof GRANT_FIELDS)[keyof typeof GRANT_FIELDS];
