// Decision records: every decision with its inputs, chained by hash so tampering shows.

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

/**
 * Canonical JSON of a JSON value: object keys sorted by UTF-16 code units, no whitespace,
 * `undefined` members dropped. The same record always serialises to the same bytes, whoever wrote it.
 */
export function canonicalJson(value: unknown): string {
  // V8's JSON.stringify over a key-sorted copy is four times faster than writing the text here,
  // but a plain object lists integer-like keys first, whatever their order: those take the slow path.
  const sorted = sortedCopy(value);
  return sorted === UNSORTABLE ? writeCanonical(value) : (JSON.stringify(sorted) ?? 'null');
}

const UNSORTABLE = Symbol('unsortable');
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * The value with every object's keys in code-unit order, or UNSORTABLE when an object has an
 * integer-like key. Only what is out of order is copied: a record built in key order (as the
 * decision log builds its own fields) goes to JSON.stringify as it is.
 */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return sortedCopy((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = sortedCopy(value[i]);
      if (item === UNSORTABLE) return UNSORTABLE;
      if (item === value[i]) continue;
      out ??= Array.from(value);
      out[i] = item;
    }
    return out ?? value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  let inOrder = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (isIndexLike(key)) return UNSORTABLE;
    if (i > 0 && !((keys[i - 1] as string) < key)) inOrder = false;
  }
  if (!inOrder) keys.sort();
  // The copy, made once a member differs from the original (at once when the keys are out of order).
  let out: Record<string, unknown> | undefined = inOrder ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const member = object[key];
    const item = sortedCopy(member);
    if (item === UNSORTABLE) return UNSORTABLE;
    if (!out) {
      if (item === member) continue;
      out = {};
      for (let j = 0; j < i; j++) setMember(out, keys[j] as string, object[keys[j] as string]);
    }
    setMember(out, key, item);
  }
  return out ?? value;
}

function setMember(out: Record<string, unknown>, key: string, item: unknown): void {
  // Assigning `__proto__` would set the copy's prototype (and drop the member): define it instead.
  if (key === '__proto__')
    Object.defineProperty(out, key, {
      value: item,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else out[key] = item;
}

/** Integer-like keys, which a plain object lists before all others whatever their insertion order. */
function isIndexLike(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 48 && first <= 57 && ARRAY_INDEX.test(key);
}

/** The canonical text written out by hand (for objects with integer-like keys). */
function writeCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return writeCanonical((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      out += `${i ? ',' : ''}${item === undefined ? 'null' : writeCanonical(item)}`;
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, as `<` does.
  let out = '{';
  for (const key of Object.keys(object).sort()) {
    const item = object[key];
    if (item === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${writeCanonical(item)}`;
  }
  return `${out}}`;
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
