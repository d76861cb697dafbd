// What a policy set can tell apart in the request context, worked out from Cedar's JSON form of
// its policies (the EST), so equal decisions can be shared between differing facts.
import {
  CONTEXT_LEAVES,
  type ContextKey,
  type ContextLeaf,
  type LeafRead,
  type PolicyReads,
} from '../domain/policy-facts.ts';

type Node = Record<string, unknown>;

/** Uses of one leaf seen so far. */
interface LeafUses {
  exact: boolean;
  readonly thresholds: Set<number>;
  readonly members: Set<string>;
}

const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=']);
const SET_TESTS = new Set(['contains', 'containsAny', 'containsAll']);
const SET_LEAVES: ReadonlySet<ContextLeaf> = new Set(['datatypes', 'signals']);

/**
 * How the policies (each as `cedar.policyToJson(text).json`) use each context leaf. A leaf
 * compared only with integer literals is a threshold read, a set only asked `.contains` (or
 * `.containsAny` / `.containsAll`) of string literals a membership read, any other use an exact
 * read: of every leaf under a record used as a whole, of everything for the bare `context`.
 * Whatever is not recognised counts as exact: that only loses sharing, never correctness.
 */
export function policyReads(policies: readonly unknown[]): PolicyReads {
  const uses = new Map<ContextLeaf, LeafUses>();
  const useOf = (leaf: ContextLeaf): LeafUses => {
    const known = uses.get(leaf);
    if (known) return known;
    const use: LeafUses = { exact: false, thresholds: new Set(), members: new Set() };
    uses.set(leaf, use);
    return use;
  };
  const recorder: Recorder = {
    exact: (path) => {
      for (const leaf of leavesUnder(path)) useOf(leaf).exact = true;
    },
    threshold: (leaf, literal) => useOf(leaf).thresholds.add(literal),
    members: (leaf, literals) => {
      for (const l of literals) useOf(leaf).members.add(l);
    },
  };
  // Only conditions can name `context` (a scope cannot); a policy of another shape is read whole.
  for (const policy of policies)
    visit(
      isNode(policy) && Array.isArray(policy.conditions) ? policy.conditions : policy,
      recorder,
    );

  const leaves = new Map<ContextLeaf, LeafRead>();
  for (const leaf of CONTEXT_LEAVES) {
    const use = uses.get(leaf);
    if (use) leaves.set(leaf, readOf(use));
  }
  const attributes = new Set([...leaves.keys()].map((leaf) => leaf.split('.')[0] as ContextKey));
  return { attributes, leaves };
}

function readOf(use: LeafUses): LeafRead {
  const { exact, thresholds, members } = use;
  if (!exact && members.size === 0 && thresholds.size > 0)
    return { kind: 'threshold', literals: [...thresholds].sort((a, b) => a - b) };
  if (!exact && thresholds.size === 0 && members.size > 0)
    return { kind: 'membership', literals: [...members].sort() };
  return { kind: 'exact' };
}

interface Recorder {
  exact(path: readonly string[]): void;
  threshold(leaf: ContextLeaf, literal: number): void;
  members(leaf: ContextLeaf, literals: readonly string[]): void;
}

/** Records every use of `context` in an expression (or any JSON holding expressions). */
function visit(node: unknown, record: Recorder): void {
  if (Array.isArray(node)) {
    for (const n of node) visit(n, record);
    return;
  }
  if (!isNode(node)) return;
  const path = contextPath(node);
  if (path) {
    record.exact(path);
    return;
  }
  for (const [op, arg] of Object.entries(node)) {
    // A literal holds no variable (and an entity or extension literal holds keys of its own).
    if (op === 'Value') continue;
    // A record literal's keys are the author's: any of them may look like an operator.
    if (op === 'Record' && isNode(arg)) {
      for (const value of Object.values(arg)) visit(value, record);
      continue;
    }
    if (COMPARISONS.has(op) && comparedWithLiteral(arg, record)) continue;
    if (SET_TESTS.has(op) && testedForLiterals(op, arg, record)) continue;
    if (op === 'has' && isNode(arg) && typeof arg.attr === 'string') {
      // Presence is what `has` reads (`ip` may be absent): the attribute counts as read exactly.
      const left = contextPath(arg.left);
      if (left) {
        record.exact([...left, arg.attr]);
        continue;
      }
    }
    if (op === 'like' && isNode(arg)) {
      visit(arg.left, record);
      continue;
    }
    visit(arg, record);
  }
}

/** `leaf op L` or `L op leaf` with an integer literal L: records a threshold. */
function comparedWithLiteral(arg: unknown, record: Recorder): boolean {
  if (!isNode(arg)) return false;
  const left = leafAt(contextPath(arg.left));
  const right = leafAt(contextPath(arg.right));
  const leaf = left ?? right;
  const literal = integerLiteral(left ? arg.right : arg.left);
  if (!leaf || literal === undefined) return false;
  record.threshold(leaf, literal);
  return true;
}

/** `set.contains("s")`, `set.containsAny(["s", ...])`, `set.containsAll([...])` on a context set: records the strings. */
function testedForLiterals(op: string, arg: unknown, record: Recorder): boolean {
  if (!isNode(arg)) return false;
  const leaf = leafAt(contextPath(arg.left));
  if (!leaf || !SET_LEAVES.has(leaf)) return false;
  const literals = op === 'contains' ? stringLiterals([arg.right]) : stringLiteralSet(arg.right);
  if (!literals) return false;
  record.members(leaf, literals);
  return true;
}

function stringLiteralSet(node: unknown): string[] | undefined {
  if (!isNode(node) || Object.keys(node).length !== 1) return undefined;
  if (Array.isArray(node.Set)) return stringLiterals(node.Set);
  if (Array.isArray(node.Value) && node.Value.every((v) => typeof v === 'string'))
    return node.Value as string[];
  return undefined;
}

function stringLiterals(nodes: readonly unknown[]): string[] | undefined {
  const out: string[] = [];
  for (const n of nodes) {
    if (!isNode(n) || Object.keys(n).length !== 1 || typeof n.Value !== 'string') return undefined;
    out.push(n.Value);
  }
  return out;
}

function integerLiteral(node: unknown): number | undefined {
  if (!isNode(node) || Object.keys(node).length !== 1) return undefined;
  // A Long beyond 2^53 arrives rounded: it is no literal we can compare against safely.
  return Number.isSafeInteger(node.Value) ? (node.Value as number) : undefined;
}

/** The attribute path of `context.a.b` (`[]` for `context` itself), else undefined. */
function contextPath(node: unknown): string[] | undefined {
  if (!isNode(node) || Object.keys(node).length !== 1) return undefined;
  if (node.Var === 'context') return [];
  const dot = node['.'];
  if (!isNode(dot) || typeof dot.attr !== 'string') return undefined;
  const left = contextPath(dot.left);
  return left && [...left, dot.attr];
}

/** The model leaf `path` names exactly. */
function leafAt(path: readonly string[] | undefined): ContextLeaf | undefined {
  if (!path) return undefined;
  const name = path.join('.');
  return (CONTEXT_LEAVES as readonly string[]).includes(name) ? (name as ContextLeaf) : undefined;
}

/**
 * The leaves a use of `path` can see: all under a record, the leaf itself, or the leaf a longer
 * path starts with. A top-level name outside the model is never sent, so reads nothing.
 */
function leavesUnder(path: readonly string[]): ContextLeaf[] {
  const name = path.join('.');
  return CONTEXT_LEAVES.filter(
    (leaf) =>
      name === '' || leaf === name || leaf.startsWith(`${name}.`) || name.startsWith(`${leaf}.`),
  );
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
