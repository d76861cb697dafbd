// Port: the policy set in force, shared by every process (text and version).
export interface StoredPolicy {
  readonly version: number;
  readonly text: string;
  readonly sha256: string;
  /** Epoch seconds. */
  readonly updated_at: number;
}

export interface PolicyStore {
  get(): Promise<StoredPolicy | undefined>;
  version(): Promise<number>;
  /** Stores a new version; returns it. */
  put(text: string, nowSec: number): Promise<number>;
  /** Stores `text` as version 1 unless a policy set is stored already; returns the version in force. */
  seed(text: string, nowSec: number): Promise<number>;
}
