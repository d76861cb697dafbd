// Bounds on the shape of a JSON value taken from a request (depth, size, string length), checked without recursion.

/** How large a JSON value from a request may be. Every field is a maximum, inclusive. */
export interface JsonLimits {
  /** Containers (objects, arrays) nested inside one another; `{}` is depth 1, a bare scalar 0. */
  readonly maxDepth: number;
  /** Values of every kind (containers and scalars, the root included). */
  readonly maxNodes: number;
  /** Members of one object, or items of one array. */
  readonly maxMembers: number;
  /** UTF-16 code units of one string, member names included. */
  readonly maxStringLength: number;
}

/**
 * Defaults for request bodies (config `server.json_*`). Deep enough for any context a policy can
 * read, far below the depth at which recursive serialisation (JSON.stringify, canonical JSON, a
 * structured clone) exhausts the stack.
 */
export const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxDepth: 32,
  maxNodes: 10_000,
  maxMembers: 1_000,
  maxStringLength: 65_536,
};

/** Which limit a value broke, and where: `path` is dot-separated like zod's (`context.a.0`), '' for the root. */
export interface JsonLimitBreach {
  readonly limit: 'depth' | 'nodes' | 'members' | 'string_length';
  readonly max: number;
  readonly path: string;
}

/** A value still to visit: its depth, and its parent's frame and its own name there, for the path. */
interface Frame {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Frame | undefined;
  readonly key: string;
}

/**
 * Checks a parsed JSON value against the limits and returns the first breach found, or undefined
 * when the value is within them. Iterative (an explicit stack), so a value nested a million deep
 * is refused at `maxDepth + 1` instead of overflowing the checker's own stack; the work done is
 * bounded by `maxNodes` whatever the value's size.
 */
export function jsonOverLimits(value: unknown, limits: JsonLimits): JsonLimitBreach | undefined {
  const stack: Frame[] = [{ value, depth: 0, parent: undefined, key: '' }];
  let nodes = 0;
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    nodes += 1;
    if (nodes > limits.maxNodes) return breach('nodes', limits.maxNodes, frame);
    const v = frame.value;
    if (typeof v === 'string') {
      if (v.length > limits.maxStringLength)
        return breach('string_length', limits.maxStringLength, frame);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const depth = frame.depth + 1;
    if (depth > limits.maxDepth) return breach('depth', limits.maxDepth, frame);
    if (Array.isArray(v)) {
      if (v.length > limits.maxMembers) return breach('members', limits.maxMembers, frame);
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ value: v[i], depth, parent: frame, key: String(i) });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.maxMembers) return breach('members', limits.maxMembers, frame);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const member: Frame = {
        value: (v as Record<string, unknown>)[key],
        depth,
        parent: frame,
        key,
      };
      if (key.length > limits.maxStringLength)
        return breach('string_length', limits.maxStringLength, member);
      stack.push(member);
    }
  }
  return undefined;
}

/** Longest path named in a breach: member names come from the caller and are not worth echoing at length. */
const MAX_PATH_CHARS = 200;
const MAX_KEY_CHARS = 40;

function breach(limit: JsonLimitBreach['limit'], max: number, at: Frame): JsonLimitBreach {
  const keys: string[] = [];
  for (let f: Frame | undefined = at; f?.parent !== undefined; f = f.parent)
    keys.push(f.key.length > MAX_KEY_CHARS ? `${f.key.slice(0, MAX_KEY_CHARS)}…` : f.key);
  let path = keys.reverse().join('.');
  if (path.length > MAX_PATH_CHARS) path = `${path.slice(0, MAX_PATH_CHARS)}…`;
  return { limit, max, path };
}

/** The field a breach is in: `where` (the parameter, '' for a body) joined to its path; `(body)` for a body's root. */
export function breachField(b: JsonLimitBreach, where: string): string {
  return b.path ? (where ? `${where}.${b.path}` : b.path) : where || '(body)';
}

/** A breach in words, naming the field (see breachField). */
export function describeJsonBreach(b: JsonLimitBreach, where: string): string {
  const field = breachField(b, where);
  switch (b.limit) {
    case 'depth':
      return `${field}: nested deeper than ${b.max} levels`;
    case 'nodes':
      return `${field}: the value has more than ${b.max} elements in all`;
    case 'members':
      return `${field}: more than ${b.max} members or items`;
    case 'string_length':
      return `${field}: a string or member name longer than ${b.max} characters`;
  }
}

/** The outcome of parseJsonWithin: the value, or why it was refused (in words naming the field). */
export type BoundedJson =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly reason: 'syntax' | 'limits';
      readonly field: string;
      readonly message: string;
    };

/**
 * Parses JSON text and checks the value against the limits. Any parse failure (a RangeError from
 * an engine that recurses included) is a syntax refusal, never a throw.
 */
export function parseJsonWithin(text: string, limits: JsonLimits, where = ''): BoundedJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      ok: false,
      reason: 'syntax',
      field: where || '(body)',
      message: `${where || 'the body'} is not valid JSON`,
    };
  }
  const over = jsonOverLimits(value, limits);
  if (over)
    return {
      ok: false,
      reason: 'limits',
      field: breachField(over, where),
      message: describeJsonBreach(over, where),
    };
  return { ok: true, value };
}
