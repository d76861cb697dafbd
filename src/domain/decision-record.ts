// Decision records: every decision with its inputs, chained by hash so tampering shows.
import { canonicalJson } from './canonical-json.ts';

export { canonicalJson };

export type DecisionKind =
  | 'mint'
  | 'refresh'
  | 'denial'
  | 'introspection'
  | 'evaluation'
  | 'reevaluation'
  | 'revocation'
  | 'approval'
  | 'policy'
  | 'client'
  /** An operator token created or revoked. */
  | 'operator'
  /** Inputs shared by the decisions of one batch, stored once; each of them names it (see SharedInputsRef). */
  | 'inputs';

/**
 * Where a decision's inputs name the shared inputs of its batch (`inputs.shared_context`) instead
 * of holding a copy: the record that holds them (kind 'inputs'), its stream id to find it by, and
 * its hash. The hash ties the two: the referencing record's own hash covers this reference, and the
 * chain check fails when the shared record's content or hash differs from it.
 */
export interface SharedInputsRef {
  readonly record: string;
  readonly sid: string;
  readonly hash: string;
}

/** The shared-inputs reference a record carries, if any. */
export function sharedRefOf(r: Pick<DecisionRecord, 'inputs'>): SharedInputsRef | undefined {
  const ref = r.inputs.shared_context as Partial<SharedInputsRef> | undefined;
  if (!ref || typeof ref !== 'object') return undefined;
  return typeof ref.record === 'string' &&
    typeof ref.sid === 'string' &&
    typeof ref.hash === 'string'
    ? (ref as SharedInputsRef)
    : undefined;
}

/** What a service says happened; the log adds id, time and the chain fields. */
export interface DecisionInput {
  readonly kind: DecisionKind;
  readonly outcome: string;
  readonly reasons: string[];
  readonly client_id?: string | undefined;
  readonly grant_id?: string | undefined;
  readonly task_id?: string | undefined;
  readonly policy_version?: number | undefined;
  /** The inputs as they were: request, context, entities. Never a token or secret. */
  readonly inputs: Record<string, unknown>;
}

export interface DecisionRecord extends DecisionInput {
  readonly id: string;
  /** Epoch milliseconds. */
  readonly at_ms: number;
  /** The writer's chain: one per broker or worker process. */
  readonly chain: string;
  /** Position in the chain, from 1. */
  readonly seq: number;
  /** `hash` of the previous record of the chain ('' for the first). */
  readonly prev: string;
  /** SHA-256 (base64url) of the record's canonical JSON without `hash`. */
  readonly hash: string;
}

/** Shared-inputs records whose hashes a chain check keeps to check references against (about 100 bytes each). */
const MAX_SHARED_TRACKED = 100_000;

export type ChainBreak = {
  readonly id: string;
  readonly chain: string;
  readonly seq: number;
  readonly problem: string;
};
export type ChainVerdict =
  | { ok: true; records: number }
  | { ok: false; records: number; broken: ChainBreak };

/**
 * An incremental chain check, for logs too large to hold at once. Records must come in log
 * order. Each record's hash must match its content; within a chain the sequence has no gap and
 * each `prev` is the previous record's hash. The first record seen of a chain anchors it (older
 * ones may have been trimmed by retention). `heads` are the last (seq, hash) each chain says it
 * wrote, read before the records: a chain may have grown since, but never be shorter.
 * Callers pass only heads whose last record retention has not trimmed.
 */
export function createChainVerifier(
  hashOf: (canonical: string) => string,
  heads: ReadonlyMap<string, { seq: number; hash: string }> = new Map(),
) {
  const last = new Map<string, { seq: number; hash: string }>();
  // Hashes of the shared-inputs records seen, newest kept: a batch's records follow its shared one closely.
  const shared = new Map<string, string>();
  let count = 0;
  let failure: ChainBreak | undefined;
  return {
    /** Adds the next record; returns the break once one is found. */
    add(r: DecisionRecord): ChainBreak | undefined {
      if (failure) return failure;
      count += 1;
      const { hash, ...body } = r;
      const broken = (problem: string) => {
        failure = { id: r.id, chain: r.chain, seq: r.seq, problem };
        return failure;
      };
      if (hashOf(canonicalJson(body)) !== hash) return broken('content does not match its hash');
      const prev = last.get(r.chain);
      if (prev) {
        if (r.seq !== prev.seq + 1) return broken(`sequence jumps from ${prev.seq}`);
        if (r.prev !== prev.hash) return broken('prev does not match the previous record');
      } else if (r.seq === 1 && r.prev !== '') {
        return broken('first record has a prev');
      }
      const head = heads.get(r.chain);
      if (head && head.seq === r.seq && head.hash !== hash)
        return broken('record differs from its chain head');
      const ref = sharedRefOf(r);
      // A shared record trimmed by retention (or older than the window kept here) is not looked for.
      if (ref && shared.has(ref.record) && shared.get(ref.record) !== ref.hash)
        return broken(`shared inputs ${ref.record} differ from their reference`);
      if (r.kind === 'inputs') {
        shared.set(r.id, hash);
        if (shared.size > MAX_SHARED_TRACKED) shared.delete(shared.keys().next().value as string);
      }
      last.set(r.chain, { seq: r.seq, hash });
      return undefined;
    },
    finish(): ChainVerdict {
      if (failure) return { ok: false, records: count, broken: failure };
      for (const [chain, head] of heads) {
        const seen = last.get(chain);
        if (!seen || seen.seq < head.seq) {
          const problem = seen
            ? `chain ends at ${seen.seq}, its head says ${head.seq}`
            : 'every record of the chain is missing';
          return { ok: false, records: count, broken: { id: '', chain, seq: head.seq, problem } };
        }
      }
      return { ok: true, records: count };
    },
  };
}

/** Checks a whole log at once (see createChainVerifier). */
export function verifyChain(
  records: Iterable<DecisionRecord>,
  hashOf: (canonical: string) => string,
  heads: ReadonlyMap<string, { seq: number; hash: string }> = new Map(),
): ChainVerdict {
  const verifier = createChainVerifier(hashOf, heads);
  for (const r of records) if (verifier.add(r)) break;
  return verifier.finish();
}
