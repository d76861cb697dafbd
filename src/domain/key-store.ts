// Port: signing keys shared by every broker process, one record per kid plus the active kid.
/** A signing key as stored. The private JWK never leaves the broker (nor this hash). */
export interface KeyRecord {
  readonly kid: string;
  readonly alg: string;
  readonly private_jwk: Record<string, unknown>;
  readonly public_jwk: Record<string, unknown>;
  /** Epoch seconds. */
  readonly created_at: number;
  /** Epoch seconds: when a newer key took over signing. */
  readonly retired_at?: number;
  /** Epoch seconds: after this no token it signed can be valid; the key is dropped. */
  readonly remove_after?: number;
}

export interface KeyStore {
  /** Every stored key and the active kid. */
  load(): Promise<{ active: string | undefined; keys: KeyRecord[] }>;
  ensureActive(record: KeyRecord): Promise<string>;
  rotate(
    expectedKid: string,
    record: KeyRecord,
    nowSec: number,
    removeAfterSec: number,
  ): Promise<string>;
  /** Drops keys whose remove_after has passed. */
  prune(nowSec: number): Promise<number>;
}
